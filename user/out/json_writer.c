// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "out/json_writer.h"
#include "util/numfmt.h"

void jw_init(struct json_writer *w, FILE *f)
{
	w->out.f = f;
	w->depth = 0;
	w->need_comma[0] = false;
	w->after_name = false;
	w->out.len = 0;
}

void jw_flush(struct json_writer *w)
{
	line_buf_flush(&w->out);
}

/* More than the buffer holds: what it holds, then s, straight into the stream. */
void jw__put_long(struct json_writer *w, const char *s, size_t n)
{
	jw_flush(w);
	fwrite(s, 1, n, w->out.f);
}

static void putc_(struct json_writer *w, char c)
{
	*jw__room(w, 1) = c;
	w->out.len++;
}

static void open_level(struct json_writer *w, char c)
{
	jw__separate(w);
	putc_(w, c);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_level(struct json_writer *w, char c)
{
	putc_(w, c);
	if (w->depth > 0)
		w->depth--;
}

void jw_start_object(struct json_writer *w)
{
	open_level(w, '{');
}

void jw_end_object(struct json_writer *w)
{
	close_level(w, '}');
}

void jw_start_array(struct json_writer *w)
{
	open_level(w, '[');
}

void jw_end_array(struct json_writer *w)
{
	close_level(w, ']');
}

void jw_end_line_held(struct json_writer *w)
{
	putc_(w, '\n');
	w->need_comma[0] = false;
	line_buf_end_line(&w->out, JW_RECORD);
}

void jw_end_line(struct json_writer *w)
{
	jw_end_line_held(w);
	jw_flush(w);
}

void jw_newline(struct json_writer *w)
{
	putc_(w, '\n');
	jw_flush(w);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Bytes that stand for themselves in a JSON string: printable ASCII but '"' and '\\'. */
static const bool plain[256] = {
	[0x20 ... '"' - 1] = true,
	['"' + 1 ... '\\' - 1] = true,
	['\\' + 1 ... 0x7e] = true,
};

/* The n bytes at str escaped, without quotes, into the buffer. */
static void escape_body(struct json_writer *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, run;

		/* The common case: a run of printable ASCII, copied at once. */
		for (run = i; run < n && plain[s[run]]; run++)
			;
		if (run > i) {
			jw__put(w, str + i, run - i);
			i = run;
			continue;
		}
		if (c == '"' || c == '\\') {
			char *p = jw__room(w, 2);

			p[0] = '\\';
			p[1] = c;
			w->out.len += 2;
			i++;
		} else if (c == '\n') {
			jw__put(w, "\\n", 2);
			i++;
		} else if (c == '\t') {
			jw__put(w, "\\t", 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			jw__put(w, u, sizeof(u));
			i++;
		} else if ((len = utf8_len(s + i, n - i))) {
			jw__put(w, str + i, len);
			i += len;
		} else {
			jw__put(w, "\\ufffd", 6);	/* not UTF-8: replaced, not passed on */
			i++;
		}
	}
}

/* The escaped string, quotes included, into the buffer. */
static void escape(struct json_writer *w, const char *str, size_t max)
{
	putc_(w, '"');
	escape_body(w, str, max == SIZE_MAX ? strlen(str) : strnlen(str, max));
	putc_(w, '"');
}

void json_escape(FILE *f, const char *str, size_t max)
{
	struct json_writer w;

	jw_init(&w, f);
	escape(&w, str, max);
	jw_flush(&w);
}

void jw_name(struct json_writer *w, const char *name)
{
	jw__separate(w);
	escape(w, name, SIZE_MAX);
	putc_(w, ':');
	w->after_name = true;
}

void jw_string(struct json_writer *w, const char *s)
{
	jw_string_n(w, s, SIZE_MAX);
}

void jw_string_n(struct json_writer *w, const char *s, size_t max)
{
	jw__separate(w);
	escape(w, s, max);
}

void jw_float(struct json_writer *w, double v, int decimals)
{
	char num[512];
	int n;

	jw__separate(w);
	if (!isfinite(v)) {
		jw__put(w, "null", 4);
		return;
	}
	n = snprintf(num, sizeof(num), "%.*f", decimals, v);
	jw__put(w, num, n < (int)sizeof(num) ? (size_t)n : sizeof(num) - 1);
}

void jw_decimal(struct json_writer *w, uint64_t v, int digits)
{
	digits = digits < 0 ? 0 : digits > 19 ? 19 : digits;
	jw__separate(w);
	w->out.len += numfmt_fixed(jw__room(w, 2 * NUMFMT_MAX + 1), v, numfmt__pow10[digits], digits);
}

void jw_bool(struct json_writer *w, bool v)
{
	jw__separate(w);
	jw__put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_string_field_(struct json_writer *w, const char *key, size_t klen, const char *s)
{
	jw_key(w, key, klen);
	jw_string(w, s);
}

void jw_float_field_(struct json_writer *w, const char *key, size_t klen, double v, int decimals)
{
	jw_key(w, key, klen);
	jw_float(w, v, decimals);
}

void jw_bool_field_(struct json_writer *w, const char *key, size_t klen, bool v)
{
	jw_key(w, key, klen);
	jw_bool(w, v);
}

void jw_string_or_null_field_(struct json_writer *w, const char *key, size_t klen, const char *s)
{
	jw_key(w, key, klen);
	if (s)
		jw_string(w, s);
	else
		jw_null(w);
}

void jw_run__flush(struct jw_run *r)
{
	jw_run_end(r);
	jw_flush(r->w);
	r->p = r->w->out.buf;
}

void jw_run__raw_long(struct jw_run *r, const char *s, size_t n)
{
	jw_run__flush(r);
	if (r->p + 1 + n <= r->end) {
		jw_run_raw(r, s, n);
		return;
	}
	jw_run_end(r);
	if (r->comma)
		putc_(r->w, ',');
	jw__put(r->w, s, n);
	jw_run_begin(r, r->w);
	r->comma = true;
}

/* Printable ASCII copied in one pass (names, versions, paths); the rest by escape_body(). */
#define RUN_PLAIN 64

void jw_run_string_(struct jw_run *r, const char *key, size_t klen, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, lim = max < RUN_PLAIN ? max : RUN_PLAIN;
	char *q;

	if (!s) {
		jw_run_null_(r, key, klen);
		return;
	}
	q = jw_run__key(r, key, klen, RUN_PLAIN + 2);
	*q++ = '"';
	for (i = 0; i < lim && plain[u[i]]; i++)
		*q++ = u[i];
	if (i < max && u[i]) {
		r->p = q;
		jw_run_end(r);
		escape_body(r->w, s + i, max == SIZE_MAX ? strlen(s + i) : strnlen(s + i, max - i));
		putc_(r->w, '"');
		jw_run_begin(r, r->w);
		return;
	}
	*q++ = '"';
	r->p = q;
}
