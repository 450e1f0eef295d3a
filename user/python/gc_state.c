// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "elf/elf_file.h"
#include "python/gc_state.h"
#include "target/target.h"
#include "util/log.h"

#define RING_TRIES 100		/* seqlock: a writer holds it for a collection's end, µs */
#define COUNT_MAX (1LL << 48)	/* more collections than this is not a count */

int gc_state__find_build(pid_t pid, const struct py_build *const *builds, int n, __u64 *start,
			 char *link, size_t link_len)
{
	char path[64], line[PATH_MAX + 128];
	int found = -1, i;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return -2;
	while (found < 0 && fgets(line, sizeof(line), maps)) {
		unsigned long long lo, hi, off;
		struct maps_line m;
		struct stat st;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx", &lo, &hi, perms, &off) != 4 || off ||
		    target__parse_maps_line(line, &m) || !m.path)
			continue;
		target__map_file(link, link_len, pid, m.start, m.end);
		if (stat(link, &st))
			continue;
		for (i = 0; i < n; i++)
			if (builds[i] && builds[i]->ver && builds[i]->dev == st.st_dev &&
			    builds[i]->ino == st.st_ino) {
				found = i;
				*start = lo;
				break;
			}
	}
	fclose(maps);
	return found;
}

int gc_state__bias(const char *link, __u64 start, const char *sym_name, __u64 *bias,
		   __u64 *sym_vaddr)
{
	struct elf_file ef;
	GElf_Phdr ph;
	GElf_Sym sym;
	size_t i, n;
	int ret = elf_file__open(&ef, link);

	if (ret)
		return ret;
	ret = -ENOEXEC;
	*bias = 0;	/* ET_EXEC: loaded at its own addresses */
	if (ef.ehdr.e_type == ET_DYN && !elf_getphdrnum(ef.elf, &n)) {
		for (i = 0; i < n; i++) {
			if (!gelf_getphdr(ef.elf, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			/* the first segment is the one at file offset 0 */
			*bias = start - (ph.p_vaddr - ph.p_offset);
			ret = 0;
			break;
		}
	} else if (ef.ehdr.e_type == ET_EXEC) {
		ret = 0;
	}
	if (!ret && sym_name)
		ret = elf_file__find_symbol(&ef, sym_name, &sym) ? -ENOENT : 0;
	if (!ret && sym_name)
		*sym_vaddr = sym.st_value;
	elf_file__close(&ef);
	return ret;
}

int gc_state__locate(pid_t pid, const struct py_build *b, __u64 bias, __u64 *state)
{
	const struct gc_layout *l = &b->layout;
	__u64 s = bias + l->anchor_vaddr, interp = 0;

	*state = 0;
	if (l->main_interp_off >= 0) {
		if (target__read_memory(pid, s + l->main_interp_off, &interp, sizeof(interp)))
			return -EFAULT;
		if (!interp)
			return -EAGAIN;
		s = interp;
	}
	*state = s + l->gc_off;
	return 0;
}

/* 3.15: the newest record of each generation's ring, under its seqlock. */
static int ring_counts(pid_t pid, const struct gc_layout *l, __u64 ring, __s64 out[3],
		       char *why, size_t len)
{
	unsigned char buf[GC_RING_BYTES];
	__u32 seq, again;
	int tries, g;

	if (l->snap_bytes > (int)sizeof(buf) || l->ring_seq_off + 4 > l->snap_bytes)
		return -EPROTO;
	for (tries = 0; tries < RING_TRIES; tries++) {
		if (target__read_memory(pid, ring + l->ring_seq_off, &seq, sizeof(seq)) ||
		    target__read_memory(pid, ring, buf, l->snap_bytes))
			return -EFAULT;
		memcpy(&again, buf + l->ring_seq_off, sizeof(again));
		if (!(seq & 1) && seq == again)
			break;
	}
	if (tries == RING_TRIES) {
		snprintf(why, len, "its statistics ring was being written at every read");
		return -EAGAIN;
	}
	for (g = 0; g < 3; g++) {
		__s8 idx = (__s8)buf[l->ring_index_off[g]];

		if (idx < 0 || idx >= l->ring_len[g]) {
			snprintf(why, len, "statistics ring %d's index %d is outside it", g, idx);
			return -EPROTO;
		}
		memcpy(&out[g], buf + l->ring_items_off[g] + idx * l->rec_size + l->rec_collections,
		       sizeof(out[g]));
	}
	return 0;
}

static int read_counts(pid_t pid, const struct gc_layout *l, __u64 state, __s64 out[3],
		       char *why, size_t len)
{
	unsigned char buf[3 * 64];
	__u64 ring = 0;
	int g;

	if (l->stats_kind == GC_STATS_RING) {
		if (target__read_memory(pid, state + l->stats_off, &ring, sizeof(ring)))
			return -EFAULT;
		if (!ring) {
			/* allocated with the interpreter's GC, before any collection */
			memset(out, 0, 3 * sizeof(*out));
			return 0;
		}
		return ring_counts(pid, l, ring, out, why, len);
	}
	if (l->rec_size <= 0 || 3 * l->rec_size > (int)sizeof(buf) ||
	    l->rec_collections + 8 > l->rec_size)
		return -EPROTO;
	if (target__read_memory(pid, state + l->stats_off, buf, 3 * l->rec_size))
		return -EFAULT;
	for (g = 0; g < 3; g++)
		memcpy(&out[g], buf + g * l->rec_size + l->rec_collections, sizeof(out[g]));
	return 0;
}

static void read_counts_of(struct gc_counts *c, pid_t pid, const struct py_build *b, bool fresh)
{
	const struct py_build *const builds[1] = { b };
	char link[128];
	__u64 start = 0, bias, state;
	int ret, g;

	memset(c, 0, sizeof(*c));
	c->state = GC_COUNTS_UNKNOWN;
	ret = gc_state__find_build(pid, builds, 1, &start, link, sizeof(link));
	if (ret == -2) {
		snprintf(c->why, sizeof(c->why), "exited before it could be read");
		return;
	}
	if (ret < 0 && fresh) {
		c->state = GC_COUNTS_READ;	/* ld.so has not mapped its libpython yet */
		return;
	}
	if (ret < 0) {
		snprintf(c->why, sizeof(c->why), "%s is not mapped in /proc/%d/maps",
			 b->display_path, pid);
		return;
	}
	if (gc_state__bias(link, start, NULL, &bias, NULL)) {
		snprintf(c->why, sizeof(c->why), "no load address for %s", b->display_path);
		return;
	}
	ret = gc_state__locate(pid, b, bias, &state);
	if (ret == -EAGAIN) {
		c->state = GC_COUNTS_READ;	/* no interpreter yet: no collection either */
		return;
	}
	if (!ret)
		ret = read_counts(pid, &b->layout, state, c->collections, c->why, sizeof(c->why));
	for (g = 0; !ret && g < 3; g++)
		if (c->collections[g] < 0 || c->collections[g] > COUNT_MAX) {
			snprintf(c->why, sizeof(c->why), "generation %d's count reads %lld: not a "
				 "count", g, (long long)c->collections[g]);
			ret = -EPROTO;
		}
	if (ret == -EFAULT)
		snprintf(c->why, sizeof(c->why), "its memory is not readable");
	else if (ret == -EPROTO && !c->why[0])
		snprintf(c->why, sizeof(c->why), "the build's statistics layout is not readable");
	if (ret) {
		memset(c->collections, 0, sizeof(c->collections));
		return;
	}
	c->state = GC_COUNTS_READ;
}

void gc_state__read_counts(struct gc_counts *c, pid_t pid, const struct py_build *b, bool fresh)
{
	read_counts_of(c, pid, b, fresh);
	if (c->state == GC_COUNTS_READ)
		p_debug("pid %d ran %lld, %lld, %lld collections before gcbpf armed it", pid,
			(long long)c->collections[0], (long long)c->collections[1],
			(long long)c->collections[2]);
	else
		p_debug("pid %d: its collections before gcbpf armed it are unknown: %s", pid,
			c->why);
}
