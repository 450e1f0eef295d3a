/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one JSON writer (after bpftool's json_writer.c): objects, arrays,
 * names, strings (escaped; invalid UTF-8 becomes U+FFFD, so hostile names
 * never make a line invalid), integers, floats, null. Compact: one record
 * per line is the caller's jw_end_line().
 *
 * A record is built in the writer's buffer and handed to the stream whole
 * at jw_end_line(), jw_newline() or jw_flush() (or when the buffer fills):
 * one locked stdio call per record instead of one per character. Nothing
 * else may write to the stream between those points.
 */
#ifndef GCBPF_JSON_WRITER_H
#define GCBPF_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16
#define JW_BUF 4096		/* a collection's record, with room; longer ones go in parts */

struct json_writer {
	FILE *f;
	int depth;
	bool need_comma[JW_MAX_DEPTH];	/* per open level: a value was written */
	bool after_name;	/* the next value belongs to the name just written */
	size_t len;		/* bytes in buf, not yet in f */
	char buf[JW_BUF];
};

void jw_init(struct json_writer *w, FILE *f);
void jw_start_object(struct json_writer *w);
void jw_end_object(struct json_writer *w);
void jw_start_array(struct json_writer *w);
void jw_end_array(struct json_writer *w);
/* Ends a top-level value with a newline (JSON lines), and writes it to the stream. */
void jw_end_line(struct json_writer *w);
/* A newline between the values of an open array or object (one per line), written out. */
void jw_newline(struct json_writer *w);
/* What the writer holds, into the stream (errors: the stream's, as for any write). */
void jw_flush(struct json_writer *w);
void jw_name(struct json_writer *w, const char *name);

void jw_string(struct json_writer *w, const char *s);
/* At most max bytes of s (a fixed-size field that may lack its NUL). */
void jw_string_n(struct json_writer *w, const char *s, size_t max);
void jw_uint(struct json_writer *w, uint64_t v);
void jw_int(struct json_writer *w, int64_t v);
/* decimals digits after the point; NaN and infinities become null. */
void jw_float(struct json_writer *w, double v, int decimals);
/* v / 10^digits written exactly (ns as µs: jw_decimal(w, ns, 3)). */
void jw_decimal(struct json_writer *w, uint64_t v, int digits);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);

/*
 * name: value pairs. name must be a string literal that needs no escaping
 * (gcbpf's own field names): it is quoted at compile time and copied, not
 * escaped again for every event. A name made at run time: jw_name().
 */
#define JW_KEY(name) "\"" name "\":", sizeof(name) + 2
void jw_key(struct json_writer *w, const char *quoted, size_t len);
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
void jw_uint_field_(struct json_writer *w, const char *key, size_t klen, uint64_t v);
void jw_int_field_(struct json_writer *w, const char *key, size_t klen, int64_t v);
void jw_float_field_(struct json_writer *w, const char *key, size_t klen, double v, int decimals);
void jw_bool_field_(struct json_writer *w, const char *key, size_t klen, bool v);
void jw_null_field_(struct json_writer *w, const char *key, size_t klen);
void jw_count_field_(struct json_writer *w, const char *key, size_t klen, int64_t v);
void jw_string_or_null_field_(struct json_writer *w, const char *key, size_t klen, const char *s);

/* The JSON string body of s (at most max bytes), quotes included, into f. */
void json_escape(FILE *f, const char *s, size_t max);

#endif
