// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "elf/elf_file.h"
#include "python/gc_config.h"
#include "python/gc_frozen.h"
#include "util/log.h"
#include "target/target.h"
#include "trace/tracer.h"

#define GC_STATE_MAX 512	/* bytes: larger than any version's GC state */

void gc_config__init(struct gc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threshold[0] = c->threshold[1] = c->threshold[2] = -1;
	c->enabled = -1;
	c->frozen = -1;
	snprintf(c->why, sizeof(c->why), "not read yet");
	snprintf(c->frozen_why, sizeof(c->frozen_why), "not read yet");
}

bool gc_config__due(const struct gc_config *c, __u64 now)
{
	return now >= c->next_ns || (c->frozen_addr && now >= c->frozen_next_ns);
}

/*
 * The mapping at file offset 0 of one of the tracer's builds in pid: its
 * start, and the build. The mapping names the inode (map_files), as the
 * build's dev/ino were taken, so a file replaced since still matches.
 */
static const struct py_build *find_build(const struct tracer *t, pid_t pid, __u64 *start,
					 char *link, size_t link_len)
{
	const struct py_build *found = NULL;
	char path[64], line[PATH_MAX + 128];
	FILE *maps;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return NULL;
	while (!found && fgets(line, sizeof(line), maps)) {
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
		for (i = 0; i < t->nr_builds && i < GCBPF_MAX_BINARIES; i++)
			if (t->builds[i] && t->builds[i]->ver && t->builds[i]->dev == st.st_dev &&
			    t->builds[i]->ino == st.st_ino) {
				found = t->builds[i];
				*start = lo;
				break;
			}
	}
	fclose(maps);
	return found;
}

/* Load bias of the file mapped (offset 0) at start; 3.6: its generations[] symbol too. */
static int bias_of(const char *link, __u64 start, const char *sym_name, __u64 *bias,
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

static int locate(struct gc_config *c, pid_t pid, const struct tracer *t)
{
	const struct py_build *b;
	const struct py_version *v;
	const struct gc_layout *l;
	char link[128];
	__u64 start = 0, bias, sym = 0, state, interp, gens;

	b = find_build(t, pid, &start, link, sizeof(link));
	if (!b) {
		snprintf(c->why, sizeof(c->why), "no traced interpreter mapped in /proc/%d/maps",
			 pid);
		return -ENOENT;
	}
	v = b->ver;
	l = &b->layout;
	if (bias_of(link, start, v->generations_sym, &bias, &sym)) {
		snprintf(c->why, sizeof(c->why), "no load address%s in %s",
			 v->generations_sym ? " or generations symbol" : "", b->display_path);
		return -ENOENT;
	}
	if (v->generations_sym) {
		/* 3.6: the generations are a static array of their own */
		c->thresholds_addr = bias + sym + v->threshold_off;
		c->stride = v->generation_size;
		snprintf(c->frozen_why, sizeof(c->frozen_why), "no gc.freeze() before 3.7");
		return 0;
	}
	state = bias + l->anchor_vaddr;
	if (l->main_interp_off >= 0) {
		if (target__read_memory(pid, state + l->main_interp_off, &interp, sizeof(interp)) ||
		    !interp) {
			snprintf(c->why, sizeof(c->why), "main interpreter not readable yet");
			return -EAGAIN;
		}
		state = interp;
	}
	state += l->gc_off;
	gens = state + v->generations_off;
	if (v->generation0_off >= 0) {
		/* the interpreter's own pointer to generations[0]: exact for every build */
		if (target__read_memory(pid, state + v->generation0_off, &gens, sizeof(gens)) ||
		    !gens) {
			snprintf(c->why, sizeof(c->why), "GC state not readable yet");
			return -EAGAIN;
		}
		if (gens < state || gens >= state + GC_STATE_MAX || gens % 4) {
			snprintf(c->why, sizeof(c->why), "generation0 points outside the GC state");
			return -EPROTO;
		}
	}
	p_debug("pid %d: GC state at 0x%llx, generations at +%llu (%s)", pid,
		(unsigned long long)state, (unsigned long long)(gens - state), b->display_path);
	c->thresholds_addr = gens + v->threshold_off;
	c->enabled_addr = v->enabled_off >= 0 ? state + v->enabled_off : 0;
	c->stride = v->generation_size;
	if (v->permanent_off >= 0)
		c->frozen_addr = state + v->permanent_off;
	return 0;
}

static int read_config(struct gc_config *c, pid_t pid)
{
	unsigned char buf[2 * 48 + 4];
	size_t len = 2 * c->stride + 4;
	int th[3], enabled = -1, i;

	if (len > sizeof(buf) || target__read_memory(pid, c->thresholds_addr, buf, len) ||
	    (c->enabled_addr && target__read_memory(pid, c->enabled_addr, &enabled,
						     sizeof(enabled))))
		return -EFAULT;
	for (i = 0; i < 3; i++)
		memcpy(&th[i], buf + i * c->stride, sizeof(th[i]));
	/* A flag that is no flag: this is not the GC state the row describes. */
	if (c->enabled_addr && enabled != 0 && enabled != 1) {
		snprintf(c->why, sizeof(c->why), "the GC state read holds no flag (enabled = %d)",
			 enabled);
		return -EPROTO;
	}
	memcpy(c->threshold, th, sizeof(th));
	c->enabled = enabled;
	c->known = true;
	return 0;
}

static void refresh_frozen(struct gc_config *c, pid_t pid, __u64 now)
{
	struct timespec a, b;
	__u64 took;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &a);
	ret = gc_frozen__count(pid, c->frozen_addr, FROZEN_MAX_NODES, &c->frozen);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (b.tv_sec - a.tv_sec) * 1000000000ULL + b.tv_nsec - a.tv_nsec;
	p_debug("pid %d: permanent generation: %lld objects (ret %d) in %llu us", pid,
		(long long)c->frozen, ret, (unsigned long long)took / 1000);
	if (!ret)
		c->frozen_ns = now;
	else if (ret == -E2BIG)
		snprintf(c->frozen_why, sizeof(c->frozen_why), "more than %lld objects frozen",
			 FROZEN_MAX_NODES);
	else if (ret == -ENOMEM)
		snprintf(c->frozen_why, sizeof(c->frozen_why), "out of memory");
	else if (c->frozen < 0)
		snprintf(c->frozen_why, sizeof(c->frozen_why), "%s",
			 ret == -EFAULT ? "its memory is not readable"
					: "the list changed while it was counted");
	c->frozen_next_ns = now + (took * FROZEN_COST_RATIO > FROZEN_REFRESH_NS
					   ? took * FROZEN_COST_RATIO : FROZEN_REFRESH_NS);
}

void gc_config__refresh(struct gc_config *c, pid_t pid, const struct tracer *t, __u64 now)
{
	int ret = 0;

	if (c->frozen_addr && now >= c->frozen_next_ns && now < c->next_ns) {
		refresh_frozen(c, pid, now);
		return;
	}
	if (!gc_config__due(c, now))
		return;
	c->tries++;
	if (!c->thresholds_addr)
		ret = locate(c, pid, t);
	if (ret == -EPROTO)
		c->thresholds_addr = c->frozen_addr = 0;
	if (!ret)
		ret = read_config(c, pid);
	if (ret == -EPROTO) {
		c->known = false;
		c->frozen_addr = 0;
		c->frozen = -1;
		c->next_ns = ULLONG_MAX;	/* for good: never a wrong number */
		return;
	}
	if (!ret)
		c->read_ns = now;
	if (c->frozen_addr && now >= c->frozen_next_ns)
		refresh_frozen(c, pid, now);
	else if (ret == -EFAULT && c->thresholds_addr && !c->known)
		snprintf(c->why, sizeof(c->why), "its memory is not readable");
	c->next_ns = now + (ret && !c->known && c->tries < GC_CONFIG_TRIES ? GC_CONFIG_RETRY_NS
									 : GC_CONFIG_REFRESH_NS);
}
