/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one JSON writer (after bpftool's json_writer.c): objects, arrays,
 * names, strings (escaped; invalid UTF-8 becomes U+FFFD, so hostile names
 * never make a line invalid), integers, floats, null. Compact: one record
 * per line is the caller's jw_end_line().
 *
 * A record is built in the writer's buffer and handed to the stream whole
 * at jw_end_line(), jw_newline() or jw_flush() (or when the buffer fills):
 * one locked stdio call per record instead of one per character; a stream
 * of many records (JSONL events) holds whole lines with jw_end_line_held()
 * until its owner's flush. Nothing else may write to the stream between
 * those points.
 */
#ifndef GCBPF_JSON_WRITER_H
#define GCBPF_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "util/line_buf.h"
#include "util/numfmt.h"

#define JW_MAX_DEPTH 16
#define JW_BUF LINE_BUF_SIZE	/* held records, then room for one */
#define JW_RECORD 4096		/* a record up to this long reaches the stream whole */

struct json_writer {
	int depth;
	bool need_comma[JW_MAX_DEPTH];	/* per open level: a value was written */
	bool after_name;	/* the next value belongs to the name just written */
	struct line_buf out;	/* the record being built, after any held ones */
};

void jw_init(struct json_writer *w, FILE *f);
void jw_start_object(struct json_writer *w);
void jw_end_object(struct json_writer *w);
void jw_start_array(struct json_writer *w);
void jw_end_array(struct json_writer *w);
/* Ends a top-level value with a newline (JSON lines), and writes it to the stream. */
void jw_end_line(struct json_writer *w);
/* The same, kept in the buffer with others until jw_flush() or until less than JW_RECORD
 * is left: a stream of many short records, still handed over in whole lines (in launch
 * mode the stream is stderr, which warnings share). */
void jw_end_line_held(struct json_writer *w);
/* A newline between the values of an open array or object (one per line), written out. */
void jw_newline(struct json_writer *w);
/* What the writer holds, into the stream (errors: the stream's, as for any write). */
void jw_flush(struct json_writer *w);
void jw_name(struct json_writer *w, const char *name);

/*
 * The per-event path is inline: a record is ~20 fields, and per field a call,
 * a memcpy of a length the compiler cannot see and a digit buffer cost more
 * than the bytes themselves.
 */

/* Room for n more bytes in buf (n <= JW_BUF). */
static inline char *jw__room(struct json_writer *w, size_t n)
{
	if (__builtin_expect(w->out.len + n > JW_BUF, 0))
		jw_flush(w);
	return w->out.buf + w->out.len;
}

void jw__put_long(struct json_writer *w, const char *s, size_t n);

static inline void jw__put(struct json_writer *w, const char *s, size_t n)
{
	if (__builtin_expect(n > JW_BUF, 0)) {
		jw__put_long(w, s, n);
		return;
	}
	memcpy(jw__room(w, n), s, n);
	w->out.len += n;
}

/* Before any value or name: the comma that separates it from the previous one. */
static inline void jw__separate(struct json_writer *w)
{
	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (w->need_comma[w->depth]) {
		*jw__room(w, 1) = ',';
		w->out.len++;
	}
	w->need_comma[w->depth] = true;
}

void jw_string(struct json_writer *w, const char *s);
/* At most max bytes of s (a fixed-size field that may lack its NUL). */
void jw_string_n(struct json_writer *w, const char *s, size_t max);

static inline void jw_uint(struct json_writer *w, uint64_t v)
{
	jw__separate(w);
	w->out.len += numfmt_u64(jw__room(w, NUMFMT_MAX), v);
}

static inline void jw_int(struct json_writer *w, int64_t v)
{
	jw__separate(w);
	w->out.len += numfmt_s64(jw__room(w, NUMFMT_MAX), v);
}

/* decimals digits after the point; NaN and infinities become null. */
void jw_float(struct json_writer *w, double v, int decimals);
/* v / 10^digits written exactly (ns as µs: jw_decimal(w, ns, 3)). */
void jw_decimal(struct json_writer *w, uint64_t v, int digits);
void jw_bool(struct json_writer *w, bool v);

static inline void jw_null(struct json_writer *w)
{
	jw__separate(w);
	jw__put(w, "null", 4);
}

/*
 * name: value pairs. name must be a string literal that needs no escaping
 * (gcbpf's own field names): it is quoted at compile time and copied, not
 * escaped again for every event. A name made at run time: jw_name().
 */
#define JW_KEY(name) "\"" name "\":", sizeof(name) + 2

static inline void jw_key(struct json_writer *w, const char *quoted, size_t len)
{
	jw__separate(w);
	jw__put(w, quoted, len);
	w->after_name = true;
}

#define jw_string_field(w, name, s) jw_string_field_(w, JW_KEY(name), s)
#define jw_uint_field(w, name, v) jw_uint_field_(w, JW_KEY(name), v)
#define jw_int_field(w, name, v) jw_int_field_(w, JW_KEY(name), v)
#define jw_float_field(w, name, v, decimals) jw_float_field_(w, JW_KEY(name), v, decimals)
#define jw_bool_field(w, name, v) jw_bool_field_(w, JW_KEY(name), v)
#define jw_null_field(w, name) jw_null_field_(w, JW_KEY(name))
/* A count the build may not give: null when negative. */
#define jw_count_field(w, name, v) jw_count_field_(w, JW_KEY(name), v)
/* A string, or null when s is NULL. */
#define jw_string_or_null_field(w, name, s) jw_string_or_null_field_(w, JW_KEY(name), s)
void jw_string_field_(struct json_writer *w, const char *key, size_t klen, const char *s);
void jw_float_field_(struct json_writer *w, const char *key, size_t klen, double v, int decimals);
void jw_bool_field_(struct json_writer *w, const char *key, size_t klen, bool v);

static inline void jw_uint_field_(struct json_writer *w, const char *key, size_t klen, uint64_t v)
{
	jw_key(w, key, klen);
	jw_uint(w, v);
}

static inline void jw_int_field_(struct json_writer *w, const char *key, size_t klen, int64_t v)
{
	jw_key(w, key, klen);
	jw_int(w, v);
}

static inline void jw_null_field_(struct json_writer *w, const char *key, size_t klen)
{
	jw_key(w, key, klen);
	jw_null(w);
}

static inline void jw_count_field_(struct json_writer *w, const char *key, size_t klen, int64_t v)
{
	jw_key(w, key, klen);
	if (v < 0)
		jw_null(w);
	else
		jw_int(w, v);
}
void jw_string_or_null_field_(struct json_writer *w, const char *key, size_t klen, const char *s);

/*
 * A run of name: value pairs in the object being written, for the per-event
 * records: the position lives in a local, not in the writer that every byte
 * stored might alias, so ~20 fields cost their bytes and little else.
 * jw_run_begin() .. jw_run_end(); no other jw_ call in between.
 */
struct jw_run {
	struct json_writer *w;
	char *p, *end;
	bool comma;
};

static inline void jw_run_begin(struct jw_run *r, struct json_writer *w)
{
	r->w = w;
	r->p = w->out.buf + w->out.len;
	r->end = w->out.buf + JW_BUF;
	r->comma = w->need_comma[w->depth];
}

static inline void jw_run_end(struct jw_run *r)
{
	r->w->out.len = r->p - r->w->out.buf;
	r->w->need_comma[r->w->depth] = r->comma;
}

/* Out of line, rare: the buffer into the stream, and the run goes on at its start. */
void jw_run__flush(struct jw_run *r);

/* A name, with room after it for n more bytes (n <= JW_BUF / 2) */
static inline char *jw_run__key(struct jw_run *r, const char *quoted, size_t len, size_t n)
{
	char *p;

	if (__builtin_expect(r->p + 1 + len + n > r->end, 0))
		jw_run__flush(r);
	p = r->p;
	*p = ',';
	p += r->comma;
	r->comma = true;
	memcpy(p, quoted, len);
	return p + len;
}

static inline void jw_run_uint_(struct jw_run *r, const char *key, size_t klen, uint64_t v)
{
	char *p = jw_run__key(r, key, klen, NUMFMT_MAX);

	r->p = p + numfmt_u64(p, v);
}

static inline void jw_run_int_(struct jw_run *r, const char *key, size_t klen, int64_t v)
{
	char *p = jw_run__key(r, key, klen, NUMFMT_MAX);

	r->p = p + numfmt_s64(p, v);
}

static inline void jw_run_null_(struct jw_run *r, const char *key, size_t klen)
{
	char *p = jw_run__key(r, key, klen, 4);

	memcpy(p, "null", 4);
	r->p = p + 4;
}

/* A count the build may not give: null when negative. */
static inline void jw_run_count_(struct jw_run *r, const char *key, size_t klen, int64_t v)
{
	char *p = jw_run__key(r, key, klen, NUMFMT_MAX);

	if (v < 0) {
		memcpy(p, "null", 4);
		r->p = p + 4;
	} else {
		r->p = p + numfmt_u64(p, v);
	}
}

/* v / 10^digits, exactly (jw_decimal) */
static inline void jw_run_decimal_(struct jw_run *r, const char *key, size_t klen, uint64_t v,
				   int digits)
{
	char *p = jw_run__key(r, key, klen, 2 * NUMFMT_MAX + 1);

	digits = digits < 0 ? 0 : digits > 19 ? 19 : digits;
	r->p = p + numfmt_fixed(p, v, numfmt__pow10[digits], digits);
}

/* n bytes rendered before (name: value pairs, no leading comma), after a comma where one is
 * due: what is the same for many records, escaped once. */
void jw_run__raw_long(struct jw_run *r, const char *s, size_t n);

static inline void jw_run_raw(struct jw_run *r, const char *s, size_t n)
{
	if (__builtin_expect(r->p + 1 + n > r->end, 0)) {
		jw_run__raw_long(r, s, n);
		return;
	}
	*r->p = ',';
	r->p += r->comma;
	r->comma = true;
	memcpy(r->p, s, n);
	r->p += n;
}

/* A string (at most max bytes), or null when s is NULL: escaped by the writer. */
void jw_run_string_(struct jw_run *r, const char *key, size_t klen, const char *s, size_t max);

#define jw_run_uint(r, name, v) jw_run_uint_(r, JW_KEY(name), v)
#define jw_run_int(r, name, v) jw_run_int_(r, JW_KEY(name), v)
#define jw_run_null(r, name) jw_run_null_(r, JW_KEY(name))
#define jw_run_count(r, name, v) jw_run_count_(r, JW_KEY(name), v)
#define jw_run_decimal(r, name, v, digits) jw_run_decimal_(r, JW_KEY(name), v, digits)
#define jw_run_string(r, name, s, max) jw_run_string_(r, JW_KEY(name), s, max)

/* The JSON string body of s (at most max bytes), quotes included, into f. */
void json_escape(FILE *f, const char *s, size_t max);

#endif
