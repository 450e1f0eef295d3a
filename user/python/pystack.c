// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "util/log.h"
#include "python/pystack.h"
#include "target/target.h"

#define MAX_STR_CHARS 4096	/* longer names or paths are not believed */
#define MAX_LINE_TABLE (1 << 20)
#define MAX_CODE_HEADER 256
#define CACHE_MAX (1u << 20)	/* entries; the cache starts over when full */

/* What the cache knows about one code object of one process. */
struct pystack_entry {
	__u64 addr;		/* 0: free slot */
	pid_t pid;
	/* the header fields it was resolved from: a change means another object */
	__u64 filename, name, lines;
	int firstlineno, firsttraceable;
	const char *func, *file;	/* interned */
	uint8_t *table;
	size_t table_len;
};

void pystack__init(struct pystack *ps, int depth)
{
	memset(ps, 0, sizeof(*ps));
	ps->depth = depth;
}

int pystack__parse_depth(const char *arg, int *depth)
{
	char *end;
	long v;

	if (!arg) {
		*depth = PYSTACK_DEFAULT_DEPTH;
		return 0;
	}
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v < 1 || v > GCBPF_MAX_STACK)
		return -1;
	*depth = v;
	return 0;
}

int pystack__add_build(struct pystack *ps, int idx, const struct py_build *b,
		       struct gc_stack_layout *sl)
{
	struct py_frames *f;
	char err[256];
	int ret;

	if (idx < 0 || idx >= GCBPF_MAX_BINARIES)
		return -EINVAL;
	/* A slot the tracer failed to fill before is given again: start over. */
	free(ps->builds[idx]);
	ps->builds[idx] = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = py_frames__fill(f, b, err, sizeof(err));
	if (ret) {
		free(f);
		p_warn("no Python stacks from %s (Python %s): %s; its events carry \"stack\": null",
		       b->display_path, b->version, err);
		return ret;
	}
	p_debug("stacks from %s: offsets from %s", b->display_path, f->source);
	ps->builds[idx] = f;
	*sl = f->bpf;
	return 0;
}

/* Reads exactly len bytes of the target's memory; never writes it. */
static int target_read(pid_t pid, __u64 addr, void *buf, size_t len)
{
	return target__read_memory(pid, addr, buf, len);
}

static __u64 u64_at(const uint8_t *p, int off)
{
	__u64 v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int s32_at(const uint8_t *p, int off)
{
	int32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* ---- strings ---------------------------------------------------------------- */

static size_t str_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The one copy of s; NULL only when out of memory. */
static const char *intern(struct pystack *ps, const char *s)
{
	size_t i, mask;

	if (ps->strs_used * 2 >= ps->strs_cap) {
		size_t cap = ps->strs_cap ? ps->strs_cap * 2 : 1024, j;
		char **n = calloc(cap, sizeof(*n));

		if (!n)
			return NULL;
		for (j = 0; j < ps->strs_cap; j++) {
			if (!ps->strs[j])
				continue;
			for (i = str_hash(ps->strs[j]) & (cap - 1); n[i]; i = (i + 1) & (cap - 1))
				;
			n[i] = ps->strs[j];
		}
		free(ps->strs);
		ps->strs = n;
		ps->strs_cap = cap;
	}
	mask = ps->strs_cap - 1;
	for (i = str_hash(s) & mask; ps->strs[i]; i = (i + 1) & mask)
		if (!strcmp(ps->strs[i], s))
			return ps->strs[i];
	ps->strs[i] = strdup(s);
	if (!ps->strs[i])
		return NULL;
	ps->strs_used++;
	return ps->strs[i];
}

int pystack__utf8(const void *data, size_t length, int kind, char *out, size_t out_len)
{
	size_t i, n = 0;

	for (i = 0; i < length; i++) {
		uint32_t c = kind == 1 ? ((const uint8_t *)data)[i]
			   : kind == 2 ? ((const uint16_t *)data)[i] : ((const uint32_t *)data)[i];
		uint8_t b[4];
		int k;

		if (c > 0x10ffff)
			return -1;
		if (c < 0x80) {
			b[0] = c;
			k = 1;
		} else if (c < 0x800) {
			b[0] = 0xc0 | c >> 6;
			b[1] = 0x80 | (c & 0x3f);
			k = 2;
		} else if (c < 0x10000) {
			if (c >= 0xd800 && c <= 0xdfff)
				return -1;	/* a lone surrogate: no UTF-8 for it */
			b[0] = 0xe0 | c >> 12;
			b[1] = 0x80 | ((c >> 6) & 0x3f);
			b[2] = 0x80 | (c & 0x3f);
			k = 3;
		} else {
			b[0] = 0xf0 | c >> 18;
			b[1] = 0x80 | ((c >> 12) & 0x3f);
			b[2] = 0x80 | ((c >> 6) & 0x3f);
			b[3] = 0x80 | (c & 0x3f);
			k = 4;
		}
		if (n + k + 1 > out_len)
			return -1;
		memcpy(out + n, b, k);
		n += k;
	}
	if (n + 1 > out_len)
		return -1;
	out[n] = 0;
	return n;
}

/*
 * A str object of the target as UTF-8, interned. Only exact, compact str
 * objects are believed (code objects' names and file names always are).
 */
static const char *read_str(struct pystack *ps, const struct py_frames *f, pid_t pid,
			    __u64 bias, __u64 addr)
{
	static uint8_t data[MAX_STR_CHARS * 4];
	static char utf8[MAX_STR_CHARS * 4 + 1];
	uint8_t hdr[128];	/* PyCompactUnicodeObject: 72 bytes on 3.6-3.11, 56 after */
	__u64 length;
	__u32 state;
	int kind, hdr_len = f->str_compact_data;

	if (hdr_len < 0 || hdr_len > (int)sizeof(hdr) || f->str_state + 4 > hdr_len ||
	    f->str_length + 8 > hdr_len) {
		ps->counts.bad_objects++;
		return NULL;
	}
	if (target_read(pid, addr, hdr, hdr_len)) {
		ps->counts.read_failures++;
		return NULL;
	}
	memcpy(&state, hdr + f->str_state, sizeof(state));
	length = u64_at(hdr, f->str_length);
	kind = (state >> 2) & 7;
	/* ob_refcnt > 0, ob_type is str, compact, a known kind, a sane length */
	if ((__s64)u64_at(hdr, 0) <= 0 || u64_at(hdr, 8) != f->str_type + bias ||
	    !(state & (1 << 5)) || (kind != 1 && kind != 2 && kind != 4) ||
	    ((state & (1 << 6)) && kind != 1) || length > MAX_STR_CHARS) {
		ps->counts.bad_objects++;
		return NULL;
	}
	if (target_read(pid, addr + ((state & (1 << 6)) ? f->str_ascii_data : f->str_compact_data),
			data, length * kind) && length) {
		ps->counts.read_failures++;
		return NULL;
	}
	if (pystack__utf8(data, length, kind, utf8, sizeof(utf8)) < 0) {
		ps->counts.bad_objects++;
		return NULL;
	}
	return intern(ps, utf8);
}

/* A bytes object of the target (a line table), malloc'ed. */
static uint8_t *read_bytes(struct pystack *ps, const struct py_frames *f, pid_t pid, __u64 bias,
			   __u64 addr, size_t *len)
{
	uint8_t hdr[32], *buf;
	__s64 size;

	if (target_read(pid, addr, hdr, sizeof(hdr))) {
		ps->counts.read_failures++;
		return NULL;
	}
	size = (__s64)u64_at(hdr, f->bytes_size);
	if ((__s64)u64_at(hdr, 0) <= 0 || u64_at(hdr, 8) != f->bytes_type + bias || size < 0 ||
	    size > MAX_LINE_TABLE) {
		ps->counts.bad_objects++;
		return NULL;
	}
	buf = malloc(size ? size : 1);
	if (!buf)
		return NULL;
	if (size && target_read(pid, addr + f->bytes_data, buf, size)) {
		ps->counts.read_failures++;
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

/* ---- line tables ------------------------------------------------------------ */

/* <= 3.9: PyCode_Addr2Line over co_lnotab. */
static int lines_lnotab(const uint8_t *t, size_t len, int line, int addrq)
{
	int addr = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > addrq)
			break;
		line += (int8_t)t[i + 1];
	}
	return line;
}

/* 3.10: the address ranges of co_linetable; -128 is "no line". */
static int lines_310(const uint8_t *t, size_t len, int computed, int addrq)
{
	int start = 0, end = 0, line = -1;
	size_t i = 0;

	while (end <= addrq) {
		do {
			if (i + 1 >= len)
				return -1;
			start = end;
			end += t[i];
			if ((int8_t)t[i + 1] == -128) {
				line = -1;
			} else {
				computed += (int8_t)t[i + 1];
				line = computed;
			}
			i += 2;
		} while (start == end);
	}
	return line;
}

static int varint(const uint8_t *t, size_t len, size_t *i, unsigned int *out)
{
	unsigned int v = 0, shift = 0;
	uint8_t b;

	do {
		if (*i >= len || shift > 28)
			return -1;
		b = t[(*i)++];
		v |= (unsigned int)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = v;
	return 0;
}

/* 3.11+: the location table (InternalDocs/locations.md). */
static int lines_311(const uint8_t *t, size_t len, int computed, int addrq)
{
	int end = 0, line = -1;
	size_t i = 0;

	while (end <= addrq) {
		unsigned int uv;
		uint8_t first;
		int code, delta = 0;
		size_t j;

		if (i >= len || !(t[i] & 128))
			return -1;
		first = t[i];
		code = (first >> 3) & 15;
		if (code == 13 || code == 14) {
			j = i + 1;
			if (varint(t, len, &j, &uv))
				return -1;
			delta = (uv & 1) ? -(int)(uv >> 1) : (int)(uv >> 1);
		} else if (code >= 10 && code <= 12) {
			delta = code - 10;
		}
		computed += delta;
		line = code == 15 ? -1 : computed;
		end += ((first & 7) + 1) * 2;
		/* The next entry starts at the next byte with the top bit set. */
		for (i++; i < len && !(t[i] & 128); i++)
			;
	}
	return line;
}

int pystack__line(enum py_line_kind kind, const uint8_t *table, size_t len, int firstlineno,
		  int addr)
{
	if (kind == PY_LINES_LNOTAB)
		return lines_lnotab(table, len, firstlineno, addr);
	if (addr < 0)
		return firstlineno;
	return kind == PY_LINES_310 ? lines_310(table, len, firstlineno, addr)
				    : lines_311(table, len, firstlineno, addr);
}

/* ---- the cache -------------------------------------------------------------- */

static size_t entry_hash(pid_t pid, __u64 addr)
{
	__u64 h = (addr >> 4) ^ ((__u64)pid * 0x9e3779b97f4a7c15ull);

	return h ^ (h >> 29);
}

static void cache_clear(struct pystack *ps)
{
	size_t i;

	for (i = 0; i < ps->cache_cap; i++)
		free(ps->cache[i].table);
	memset(ps->cache, 0, ps->cache_cap * sizeof(*ps->cache));
	ps->cache_used = 0;
}

/* The slot for (pid, addr): its entry, or the free slot to fill; NULL on no memory. */
static struct pystack_entry *cache_slot(struct pystack *ps, pid_t pid, __u64 addr)
{
	size_t i, mask;

	if (ps->cache_used * 2 >= ps->cache_cap) {
		size_t cap = ps->cache_cap ? ps->cache_cap * 2 : 4096, j;
		struct pystack_entry *n;

		if (cap > CACHE_MAX) {
			cache_clear(ps);
		} else {
			n = calloc(cap, sizeof(*n));
			if (!n)
				return NULL;
			for (j = 0; j < ps->cache_cap; j++) {
				struct pystack_entry *o = &ps->cache[j];

				if (!o->addr)
					continue;
				for (i = entry_hash(o->pid, o->addr) & (cap - 1); n[i].addr;
				     i = (i + 1) & (cap - 1))
					;
				n[i] = *o;
			}
			free(ps->cache);
			ps->cache = n;
			ps->cache_cap = cap;
		}
	}
	mask = ps->cache_cap - 1;
	for (i = entry_hash(pid, addr) & mask; ps->cache[i].addr; i = (i + 1) & mask)
		if (ps->cache[i].addr == addr && ps->cache[i].pid == pid)
			return &ps->cache[i];
	return &ps->cache[i];
}

/*
 * The cache entry for code object addr whose header was just read (hdr): a
 * header that differs from the cached one is another object at a reused
 * address.
 */
static const struct pystack_entry *code_entry(struct pystack *ps, const struct py_frames *f,
					      pid_t pid, __u64 bias, __u64 addr, const uint8_t *hdr)
{
	struct pystack_entry *e, fresh = { .addr = addr, .pid = pid };

	if ((__s64)u64_at(hdr, 0) <= 0 || u64_at(hdr, 8) != f->code_type + bias) {
		ps->counts.bad_objects++;
		return NULL;
	}
	fresh.filename = u64_at(hdr, f->co_filename);
	fresh.name = u64_at(hdr, f->co_name);
	fresh.lines = u64_at(hdr, f->co_lines);
	fresh.firstlineno = s32_at(hdr, f->co_firstlineno);
	fresh.firsttraceable = f->co_firsttraceable >= 0 ? s32_at(hdr, f->co_firsttraceable) : 0;
	e = cache_slot(ps, pid, addr);
	if (!e)
		return NULL;
	if (e->addr) {
		if (e->filename == fresh.filename && e->name == fresh.name &&
		    e->lines == fresh.lines && e->firstlineno == fresh.firstlineno &&
		    e->firsttraceable == fresh.firsttraceable) {
			ps->counts.cache_hits++;
			return e;
		}
		ps->counts.cache_stale++;
		free(e->table);
		memset(e, 0, sizeof(*e));
		ps->cache_used--;
	}
	ps->counts.cache_misses++;
	fresh.func = read_str(ps, f, pid, bias, fresh.name);
	fresh.file = fresh.func ? read_str(ps, f, pid, bias, fresh.filename) : NULL;
	fresh.table = fresh.file ? read_bytes(ps, f, pid, bias, fresh.lines, &fresh.table_len)
				 : NULL;
	if (!fresh.table)
		return NULL;	/* not cached: tried again next time */
	*e = fresh;
	ps->cache_used++;
	return e;
}

const struct py_stack *pystack__resolve(struct pystack *ps, const struct gc_event *e,
					const struct gc_stack *s)
{
	struct py_stack *out = &ps->cur;
	const struct py_frames *f = e->binary < GCBPF_MAX_BINARIES ? ps->builds[e->binary] : NULL;
	static uint8_t hdrs[GCBPF_MAX_STACK][MAX_CODE_HEADER];
	static struct iovec local[GCBPF_MAX_STACK], remote[GCBPF_MAX_STACK];
	__u32 i, nr, batched = 0;
	ssize_t got;

	out->nr = 0;
	out->truncated = false;
	out->unavailable = !f || !s || !(e->flags & GC_EV_STACK) || s->status == GC_STACK_NONE;
	if (out->unavailable)
		return out;
	ps->counts.events++;
	if (s->status == GC_STACK_FAULT)
		ps->counts.bpf_faults++;
	if (s->status == GC_STACK_NO_TSTATE) {
		ps->counts.no_tstate++;
		out->unavailable = true;
		return out;
	}
	out->truncated = s->status != GC_STACK_OK;
	nr = s->nr < (__u32)ps->depth ? s->nr : (__u32)ps->depth;
	if (f->co_header > MAX_CODE_HEADER)
		nr = 0;
	/* Every frame's code header in one system call; what it could not read
	 * (it stops at the first unreadable one) is read one by one below. */
	for (i = 0; i < nr; i++) {
		local[i] = (struct iovec){ hdrs[i], f->co_header };
		remote[i] = (struct iovec){ (void *)(uintptr_t)s->frames[i].code, f->co_header };
	}
	got = nr ? process_vm_readv(e->pid, local, nr, remote, nr, 0) : 0;
	if (got > 0)
		batched = got / f->co_header;
	for (i = 0; i < nr; i++) {
		const struct gc_frame *fr = &s->frames[i];
		const struct pystack_entry *c = NULL;
		struct py_frame_sym *sym = &out->frames[out->nr];
		int addr;

		if (i < batched || !target_read(e->pid, fr->code, hdrs[i], f->co_header))
			c = code_entry(ps, f, e->pid, s->load_bias, fr->code, hdrs[i]);
		else
			ps->counts.read_failures++;
		if (!c) {
			out->truncated = true;	/* named so far, nothing wrong after */
			break;
		}
		if (f->lines == PY_LINES_311) {
			addr = fr->instr - f->co_code;
			/* Not started yet (before RESUME): Python hides these frames. */
			if (fr->owner != 1 && addr / 2 < c->firsttraceable)
				continue;
		} else {
			addr = fr->instr * f->lasti_unit;
		}
		sym->func = c->func;
		sym->file = c->file;
		sym->line = pystack__line(f->lines, c->table, c->table_len, c->firstlineno, addr);
		out->nr++;
		ps->counts.frames++;
	}
	return out;
}

void pystack__report(const struct pystack *ps)
{
	const struct pystack_counts *c = &ps->counts;

	p_debug("stacks: %llu events, %llu frames; cache %llu hits, %llu misses, %llu stale",
		(unsigned long long)c->events, (unsigned long long)c->frames,
		(unsigned long long)c->cache_hits, (unsigned long long)c->cache_misses,
		(unsigned long long)c->cache_stale);
	if (c->bpf_faults || c->no_tstate || c->read_failures || c->bad_objects)
		p_warn("stacks cut short (\"stack_truncated\"): %llu at a frame the kernel could "
		       "not read, %llu with no thread state, %llu frames unreadable from user "
		       "space, %llu no longer the objects they were (the process exited or freed "
		       "them before gcbpf read their names)",
		       (unsigned long long)c->bpf_faults, (unsigned long long)c->no_tstate,
		       (unsigned long long)c->read_failures, (unsigned long long)c->bad_objects);
}

void pystack__free(struct pystack *ps)
{
	size_t i;

	for (i = 0; i < GCBPF_MAX_BINARIES; i++)
		free(ps->builds[i]);
	if (ps->cache)
		cache_clear(ps);
	free(ps->cache);
	for (i = 0; i < ps->strs_cap; i++)
		free(ps->strs[i]);
	free(ps->strs);
	memset(ps, 0, sizeof(*ps));
}
