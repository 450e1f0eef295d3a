// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gelf.h>
#include "elf/debuginfo.h"
#include "elf/elf_file.h"
#include "python/pystack.h"
#include "target/rootfs.h"
#include "trace/native.h"
#include "util/log.h"

#define MAPS_MAX (8u << 20)	/* /proc/PID/maps read, at most */
#define SEGS_MAX 16

struct native_symbol {
	__u64 addr, size;
	const char *name;	/* interned */
};

/* One mapped file, by device and inode: its functions, loaded at first need. */
struct native_file {
	unsigned long dev_major, dev_minor;
	__u64 ino;
	bool loaded;
	struct native_symbol *syms;	/* by address */
	size_t nr;
	struct { __u64 off, vaddr, len; } segs[SEGS_MAX];	/* PT_LOAD: file offset -> vaddr */
	int nr_segs;
};

struct native_map {
	__u64 start, end, pgoff;
	const char *path;	/* interned, as the process sees it */
	struct native_file *file;
};

struct native_proc {
	pid_t pid;
	VEC(struct native_map) maps;
	bool read;
};

void native__init(struct native *n, struct pystack *strs)
{
	memset(n, 0, sizeof(*n));
	n->strs = strs;
}

static struct native_file *file_of(struct native *n, unsigned long maj, unsigned long min, __u64 ino)
{
	struct native_file *f, **slot;
	int i;

	for (i = 0; i < n->files.nr; i++) {
		f = n->files.items[i];
		if (f->ino == ino && f->dev_major == maj && f->dev_minor == min)
			return f;
	}
	f = calloc(1, sizeof(*f));
	slot = f ? vec_push(&n->files) : NULL;
	if (!slot) {
		free(f);
		return NULL;
	}
	f->dev_major = maj;
	f->dev_minor = min;
	f->ino = ino;
	*slot = f;
	return f;
}

/* Executable file mappings of pid, from /proc/PID/maps. */
static int read_maps(struct native *n, struct native_proc *p)
{
	char path[64], *buf = malloc(MAPS_MAX), *line, *save = NULL;
	ssize_t len;

	p->maps.nr = 0;
	p->read = true;
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	len = rootfs__read_proc(path, buf, MAPS_MAX);
	if (len < 0) {
		free(buf);
		return len;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, end, pgoff, ino;
		unsigned long maj, min;
		char perms[8];
		int off = 0;
		struct native_map *m;

		if (sscanf(line, "%llx-%llx %7s %llx %lx:%lx %llu %n", &start, &end, perms, &pgoff,
			   &maj, &min, &ino, &off) < 7 || perms[2] != 'x' || !off || (line[off] != '/' && line[off] != '['))
			continue;
		m = vec_push(&p->maps);
		if (!m)
			break;
		m->start = start;
		m->end = end;
		m->pgoff = pgoff;
		m->path = pystack__intern(n->strs, line + off);
		/* [vdso]: the kernel's code, no file to read: named as itself. */
		m->file = line[off] == '/' ? file_of(n, maj, min, ino) : NULL;
	}
	free(buf);
	return 0;
}

struct sym_collect {
	struct native *n;
	VEC(struct native_symbol) syms;
};

static int collect_sym(const char *name, const GElf_Sym *sym, void *ctx)
{
	struct sym_collect *c = ctx;
	int type = GELF_ST_TYPE(sym->st_info);
	struct native_symbol *s;

	if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym->st_shndx == SHN_UNDEF ||
	    !sym->st_value)
		return 0;
	s = vec_push(&c->syms);
	if (!s)
		return -ENOMEM;
	s->addr = sym->st_value;
	s->size = sym->st_size;
	s->name = pystack__intern(c->n->strs, name);
	return s->name ? 0 : -ENOMEM;
}

static int by_addr(const void *a, const void *b)
{
	const struct native_symbol *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (x->size < y->size) - (x->size > y->size);	/* the sized one first */
}

/* Segments and functions of f, through the mapping m of pid. */
static void load_file(struct native *n, struct native_file *f, pid_t pid, const struct native_map *m)
{
	char link[96], root[48], err[256];
	struct sym_collect c = { .n = n };
	struct elf_file ef;
	struct debuginfo di = {};
	size_t i, nph;
	int fd;

	f->loaded = true;
	snprintf(link, sizeof(link), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
		 (uint64_t)m->start, (uint64_t)m->end);
	fd = rootfs__open_link(link, err, sizeof(err));
	if (fd < 0 || elf_file__open_fd(&ef, fd, m->path)) {
		p_debug("inside: cannot read %s for its symbols: %s", m->path,
			fd < 0 ? err : "not an ELF file");
		return;
	}
	if (!elf_getphdrnum(ef.elf, &nph)) {
		for (i = 0; i < nph && f->nr_segs < SEGS_MAX; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(ef.elf, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			f->segs[f->nr_segs].off = ph.p_offset;
			f->segs[f->nr_segs].vaddr = ph.p_vaddr;
			f->segs[f->nr_segs].len = ph.p_filesz;
			f->nr_segs++;
		}
	}
	if (elf_file__has_symtab(&ef)) {
		elf_file__for_each_symbol(&ef, SHT_SYMTAB, collect_sym, &c);
	} else {
		snprintf(root, sizeof(root), "/proc/%d/root", pid);
		if (!debuginfo__open(&di, &ef, root, m->path)) {
			elf_file__for_each_symbol(&di.ef, SHT_SYMTAB, collect_sym, &c);
			debuginfo__close(&di);
		}
	}
	elf_file__for_each_symbol(&ef, SHT_DYNSYM, collect_sym, &c);
	elf_file__close(&ef);
	if (c.syms.nr)
		qsort(c.syms.items, c.syms.nr, sizeof(*c.syms.items), by_addr);
	f->syms = c.syms.items;
	f->nr = c.syms.nr;
	p_debug("inside: %zu functions for %s", f->nr, m->path);
}

/* The function of f covering vaddr, or NULL. */
static const char *sym_at(const struct native_file *f, __u64 vaddr)
{
	size_t lo = 0, hi = f->nr;

	while (lo < hi) {	/* the last symbol at or below vaddr */
		size_t mid = (lo + hi) / 2;

		if (f->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo > 0) {
		const struct native_symbol *s = &f->syms[lo - 1];

		/* A sized symbol must cover it; an unsized one up to the next. */
		if (s->size ? vaddr < s->addr + s->size : lo == f->nr || vaddr < f->syms[lo].addr)
			return s->name;
		/* Symbols at the same address: the others may be sized differently. */
		if (lo < 2 || f->syms[lo - 2].addr != s->addr)
			break;
		lo--;
	}
	return NULL;
}

static struct native_proc *proc_of(struct native *n, pid_t pid)
{
	struct native_proc *p, **slot;
	int i;

	for (i = 0; i < n->procs.nr; i++)
		if (n->procs.items[i]->pid == pid)
			return n->procs.items[i];
	p = calloc(1, sizeof(*p));
	slot = p ? vec_push(&n->procs) : NULL;
	if (!slot) {
		free(p);
		return NULL;
	}
	p->pid = pid;
	*slot = p;
	return p;
}

static const struct native_map *map_of(const struct native_proc *p, __u64 addr)
{
	int i;

	for (i = 0; i < p->maps.nr; i++)
		if (addr >= p->maps.items[i].start && addr < p->maps.items[i].end)
			return &p->maps.items[i];
	return NULL;
}

void native__lookup(struct native *n, pid_t pid, __u64 addr, struct native_sym *out)
{
	struct native_proc *p = proc_of(n, pid);
	const struct native_map *m = NULL;
	const char *base, *name = NULL;
	char buf[PATH_MAX + 32];
	__u64 off;
	int i;

	memset(out, 0, sizeof(*out));
	if (p && !p->read)
		read_maps(n, p);
	if (p && !(m = map_of(p, addr))) {
		read_maps(n, p);	/* mapped since */
		m = map_of(p, addr);
	}
	if (!m) {
		n->unnamed++;
		snprintf(buf, sizeof(buf), "[unknown]+0x%llx", (unsigned long long)addr);
		out->func = pystack__intern(n->strs, buf);
		return;
	}
	off = addr - m->start + m->pgoff;
	if (m->path[0] == '[') {
		n->named++;
		out->func = out->binary = m->path;
		out->named = true;
		return;
	}
	if (m->file && !m->file->loaded)
		load_file(n, m->file, pid, m);
	for (i = 0; m->file && i < m->file->nr_segs; i++) {
		if (off >= m->file->segs[i].off && off < m->file->segs[i].off + m->file->segs[i].len) {
			name = sym_at(m->file, off - m->file->segs[i].off + m->file->segs[i].vaddr);
			break;
		}
	}
	out->binary = m->path;
	out->named = name != NULL;
	if (name) {
		n->named++;
		out->func = name;
		return;
	}
	n->unnamed++;
	base = strrchr(m->path, '/');
	snprintf(buf, sizeof(buf), "%s+0x%llx", base ? base + 1 : m->path, (unsigned long long)off);
	out->func = pystack__intern(n->strs, buf);
}

void native__forget(struct native *n, pid_t pid)
{
	int i;

	for (i = 0; i < n->procs.nr; i++) {
		if (n->procs.items[i]->pid != pid)
			continue;
		vec_free(&n->procs.items[i]->maps);
		free(n->procs.items[i]);
		n->procs.items[i] = n->procs.items[--n->procs.nr];
		return;
	}
}

void native__free(struct native *n)
{
	int i;

	for (i = 0; i < n->procs.nr; i++) {
		vec_free(&n->procs.items[i]->maps);
		free(n->procs.items[i]);
	}
	vec_free(&n->procs);
	for (i = 0; i < n->files.nr; i++) {
		free(n->files.items[i]->syms);
		free(n->files.items[i]);
	}
	vec_free(&n->files);
	memset(n, 0, sizeof(*n));
}
