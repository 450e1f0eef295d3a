// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "json_writer.h"

void jw_init(struct json_writer *w, FILE *f)
{
	w->f = f;
	w->depth = 0;
	w->need_comma[0] = false;
	w->after_name = false;
}

/* Before any value or name: the comma that separates it from the previous one. */
static void separate(struct json_writer *w)
{
	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (w->need_comma[w->depth])
		fputc(',', w->f);
	w->need_comma[w->depth] = true;
}

static void open_level(struct json_writer *w, char c)
{
	separate(w);
	fputc(c, w->f);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_level(struct json_writer *w, char c)
{
	fputc(c, w->f);
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

void jw_end_line(struct json_writer *w)
{
	fputc('\n', w->f);
	w->need_comma[0] = false;
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

void json_escape(FILE *f, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strnlen(str, max), i = 0;

	fputc('"', f);
	while (i < n) {
		unsigned char c = s[i];
		size_t len;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f);
			i++;
		} else if (c == '\t') {
			fputs("\\t", f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if ((len = utf8_len(s + i, n - i))) {
			fwrite(s + i, 1, len, f);
			i += len;
		} else {
			fputs("\\ufffd", f);	/* not UTF-8: replaced, not passed on */
			i++;
		}
	}
	fputc('"', f);
}

void jw_name(struct json_writer *w, const char *name)
{
	separate(w);
	json_escape(w->f, name, SIZE_MAX);
	fputc(':', w->f);
	w->after_name = true;
}

void jw_string(struct json_writer *w, const char *s)
{
	jw_string_n(w, s, SIZE_MAX);
}

void jw_string_n(struct json_writer *w, const char *s, size_t max)
{
	separate(w);
	json_escape(w->f, s, max);
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	separate(w);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_int(struct json_writer *w, int64_t v)
{
	separate(w);
	fprintf(w->f, "%" PRId64, v);
}

void jw_float(struct json_writer *w, double v, int decimals)
{
	separate(w);
	if (isfinite(v))
		fprintf(w->f, "%.*f", decimals, v);
	else
		fputs("null", w->f);
}

void jw_decimal(struct json_writer *w, uint64_t v, int digits)
{
	uint64_t scale = 1;
	int i;

	for (i = 0; i < digits; i++)
		scale *= 10;
	separate(w);
	if (digits > 0)
		fprintf(w->f, "%" PRIu64 ".%0*" PRIu64, v / scale, digits, v % scale);
	else
		fprintf(w->f, "%" PRIu64, v);
}

void jw_bool(struct json_writer *w, bool v)
{
	separate(w);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct json_writer *w)
{
	separate(w);
	fputs("null", w->f);
}

void jw_string_field(struct json_writer *w, const char *name, const char *s)
{
	jw_name(w, name);
	jw_string(w, s);
}

void jw_uint_field(struct json_writer *w, const char *name, uint64_t v)
{
	jw_name(w, name);
	jw_uint(w, v);
}

void jw_int_field(struct json_writer *w, const char *name, int64_t v)
{
	jw_name(w, name);
	jw_int(w, v);
}

void jw_float_field(struct json_writer *w, const char *name, double v, int decimals)
{
	jw_name(w, name);
	jw_float(w, v, decimals);
}

void jw_bool_field(struct json_writer *w, const char *name, bool v)
{
	jw_name(w, name);
	jw_bool(w, v);
}

void jw_null_field(struct json_writer *w, const char *name)
{
	jw_name(w, name);
	jw_null(w);
}

void jw_count_field(struct json_writer *w, const char *name, int64_t v)
{
	jw_name(w, name);
	if (v < 0)
		jw_null(w);
	else
		jw_int(w, v);
}

void jw_string_or_null_field(struct json_writer *w, const char *name, const char *s)
{
	jw_name(w, name);
	if (s)
		jw_string(w, s);
	else
		jw_null(w);
}
