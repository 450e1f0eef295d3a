// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/text.h"
#include "python/pystack.h"

/* Records kept; the table starts over when full (the kernel's LRUs hold 24k). */
#define CODES_MAX (1u << 17)

/* One code record, by its id. */
struct pystack_entry {
	__u64 id;		/* 0: free slot */
	const char *func, *file;	/* interned; NULL: could not be decoded */
	int firstlineno;
	bool table_cut;		/* only the table's first table_len bytes */
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
	long v;

	if (text__parse_long(arg, PYSTACK_DEFAULT_DEPTH, 1, GCBPF_MAX_STACK, &v))
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

/* ---- strings ---------------------------------------------------------------- */

static size_t str_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The one copy of s; NULL only when out of memory. */
const char *pystack__intern(struct pystack *ps, const char *s)
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

/* ---- code records ----------------------------------------------------------- */

static size_t id_hash(__u64 id)
{
	__u64 h = id * 0x9e3779b97f4a7c15ull;

	return h ^ (h >> 29);
}

static void codes_clear(struct pystack *ps)
{
	size_t i;

	for (i = 0; i < ps->codes_cap; i++)
		free(ps->codes[i].table);
	memset(ps->codes, 0, ps->codes_cap * sizeof(*ps->codes));
	ps->codes_used = 0;
}

/* The slot for id: its entry, or the free slot to fill; NULL on no memory. */
static struct pystack_entry *code_slot(struct pystack *ps, __u64 id)
{
	size_t i, mask;

	if (ps->codes_used * 2 >= ps->codes_cap) {
		size_t cap = ps->codes_cap ? ps->codes_cap * 2 : 4096, j;
		struct pystack_entry *n;

		if (cap > 2 * CODES_MAX) {
			ps->counts.records_dropped += ps->codes_used;
			codes_clear(ps);
		} else {
			n = calloc(cap, sizeof(*n));
			if (!n)
				return NULL;
			for (j = 0; j < ps->codes_cap; j++) {
				struct pystack_entry *o = &ps->codes[j];

				if (!o->id)
					continue;
				for (i = id_hash(o->id) & (cap - 1); n[i].id; i = (i + 1) & (cap - 1))
					;
				n[i] = *o;
			}
			free(ps->codes);
			ps->codes = n;
			ps->codes_cap = cap;
		}
	}
	mask = ps->codes_cap - 1;
	for (i = id_hash(id) & mask; ps->codes[i].id; i = (i + 1) & mask)
		if (ps->codes[i].id == id)
			return &ps->codes[i];
	return &ps->codes[i];
}

static const struct pystack_entry *code_find(const struct pystack *ps, __u64 id)
{
	size_t i, mask;

	if (!ps->codes_cap || !id)
		return NULL;
	mask = ps->codes_cap - 1;
	for (i = id_hash(id) & mask; ps->codes[i].id; i = (i + 1) & mask)
		if (ps->codes[i].id == id)
			return &ps->codes[i];
	return NULL;
}

/* A name the kernel copied (a str's characters) as UTF-8, interned; NULL if none. */
static const char *record_str(struct pystack *ps, const uint8_t *data, unsigned int bytes,
			      unsigned int kind, bool cut)
{
	static char utf8[GC_FILE_MAX * 4 + 1];

	if (cut || (kind != 1 && kind != 2 && kind != 4) || bytes % kind ||
	    pystack__utf8(data, bytes / kind, kind, utf8, sizeof(utf8)) < 0)
		return NULL;
	return pystack__intern(ps, utf8);
}

void pystack__add_record(struct pystack *ps, const void *data, size_t size)
{
	const struct gc_code_record *r = data;
	const uint8_t *names = (const uint8_t *)(r + 1);
	struct pystack_entry *e, fresh = {};

	if (size < sizeof(*r) + GC_NAME_MAX + GC_FILE_MAX ||
	    r->table_len > size - sizeof(*r) - GC_NAME_MAX - GC_FILE_MAX ||
	    r->name_len > GC_NAME_MAX || r->file_len > GC_FILE_MAX || !r->id) {
		ps->counts.records_bad++;
		return;
	}
	ps->counts.records++;
	fresh.id = r->id;
	fresh.firstlineno = r->firstlineno;
	fresh.table_cut = r->flags & GC_CODE_TABLE_CUT;
	fresh.func = record_str(ps, names, r->name_len, r->name_kind, r->flags & GC_CODE_NAME_CUT);
	fresh.file = record_str(ps, names + GC_NAME_MAX, r->file_len, r->file_kind,
				r->flags & GC_CODE_FILE_CUT);
	fresh.table = malloc(r->table_len ? r->table_len : 1);
	if (!fresh.table)
		return;
	memcpy(fresh.table, names + GC_NAME_MAX + GC_FILE_MAX, r->table_len);
	fresh.table_len = r->table_len;
	e = code_slot(ps, r->id);
	if (!e) {
		free(fresh.table);
		return;
	}
	if (e->id) {
		free(e->table);	/* cannot be: ids are unique */
		ps->codes_used--;
	}
	*e = fresh;
	ps->codes_used++;
}

/* Frame i of the stack is unknown, for this cause: "?" in place. */
static void frame_unknown(struct pystack *ps, struct py_frame_sym *sym, unsigned int cause)
{
	sym->func = NULL;
	sym->file = NULL;
	sym->line = -1;
	ps->counts.unknown[cause < PYSTACK_UNKNOWN_MAX ? cause : PYSTACK_UNKNOWN_RECORD]++;
	ps->counts.unknown_frames++;
}

int pystack__frames(struct pystack *ps, __u32 binary, const struct gc_frame *frames, __u32 nr,
		    struct py_frame_sym *out, int *unknown)
{
	const struct py_frames *f = binary < GCBPF_MAX_BINARIES ? ps->builds[binary] : NULL;
	__u32 i;
	int n = 0;

	if (!f)
		return 0;
	for (i = 0; i < nr && i < GCBPF_MAX_STACK; i++) {
		const struct gc_frame *fr = &frames[i];
		struct py_frame_sym *sym = &out[n];
		const struct pystack_entry *c = NULL;
		int addr;

		if (fr->unknown == GC_FRAME_NAMED)
			c = code_find(ps, fr->code_id);
		if (!c || !c->func || !c->file) {
			frame_unknown(ps, sym, c ? PYSTACK_UNKNOWN_DECODE
					   : fr->unknown == GC_FRAME_NAMED ? PYSTACK_UNKNOWN_RECORD
					   : fr->unknown);
			sym->first_line = -1;
			n++;
			(*unknown)++;
			continue;
		}
		/* Frames not started yet (3.11+) the kernel hid already. */
		addr = f->lines == PY_LINES_311 ? fr->instr - f->co_code : fr->instr * f->lasti_unit;
		sym->func = c->func;
		sym->file = c->file;
		sym->first_line = c->firstlineno;
		sym->line = pystack__line(f->lines, c->table, c->table_len, c->firstlineno, addr);
		/* A cut table may end before the instruction: a name without its line. */
		if (sym->line < 0 && c->table_cut)
			ps->counts.lines_unknown++;
		n++;
		ps->counts.frames++;
	}
	return n;
}

const struct py_stack *pystack__resolve(struct pystack *ps, const struct gc_event *e,
					const struct gc_stack *s)
{
	struct py_stack *out = &ps->cur;
	const struct py_frames *f = e->binary < GCBPF_MAX_BINARIES ? ps->builds[e->binary] : NULL;
	__u32 nr;

	out->nr = 0;
	out->unknown = 0;
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
	/* Cut only where the chain was: at the depth, or unreadable further. */
	out->truncated = s->status != GC_STACK_OK;
	nr = s->nr < (__u32)ps->depth ? s->nr : (__u32)ps->depth;
	out->nr = pystack__frames(ps, e->binary, s->frames, nr, out->frames, &out->unknown);
	return out;
}

void pystack__report(const struct pystack *ps)
{
	const struct pystack_counts *c = &ps->counts;

	p_debug("stacks: %llu events, %llu frames named, %llu code records (%llu malformed, "
		"%llu dropped when the table was full)", (unsigned long long)c->events,
		(unsigned long long)c->frames, (unsigned long long)c->records,
		(unsigned long long)c->records_bad, (unsigned long long)c->records_dropped);
	if (c->unknown_frames)
		p_warn("stacks: %llu frames unknown (\"?\", \"func\": null), kept in place: %llu "
		       "code objects unreadable, %llu no code object, %llu names unreadable, %llu "
		       "code records lost (ring full), %llu records not received or dropped from "
		       "a full table, %llu names too long or not decodable", (unsigned long long)c->unknown_frames,
		       (unsigned long long)c->unknown[GC_FRAME_CODE_FAULT],
		       (unsigned long long)c->unknown[GC_FRAME_NOT_CODE],
		       (unsigned long long)c->unknown[GC_FRAME_STR_FAULT],
		       (unsigned long long)c->unknown[GC_FRAME_RECORD_LOST],
		       (unsigned long long)c->unknown[PYSTACK_UNKNOWN_RECORD],
		       (unsigned long long)c->unknown[PYSTACK_UNKNOWN_DECODE]);
	if (c->lines_unknown)
		p_warn("stacks: %llu frames named without their line (\"line\": null): line table "
		       "longer than the %d bytes the kernel copies", (unsigned long long)c->lines_unknown,
		       GC_TABLE_MAX);
	if (c->bpf_faults || c->no_tstate)
		p_warn("stacks cut short (\"stack_truncated\"): %llu where the kernel could not read "
		       "the frame chain further, %llu with no thread state",
		       (unsigned long long)c->bpf_faults, (unsigned long long)c->no_tstate);
}

void pystack__free(struct pystack *ps)
{
	size_t i;

	for (i = 0; i < GCBPF_MAX_BINARIES; i++)
		free(ps->builds[i]);
	if (ps->codes)
		codes_clear(ps);
	free(ps->codes);
	for (i = 0; i < ps->strs_cap; i++)
		free(ps->strs[i]);
	free(ps->strs);
	memset(ps, 0, sizeof(*ps));
}
