// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/numfmt.h"
#include "util/text.h"

char *text__escape(char *dst, size_t len, const char *src, size_t max)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i, o = 0, n = strnlen(src, max);

	if (!len)
		return dst;
	for (i = 0; i < n && o + 1 < len; i++) {
		unsigned char c = s[i];
		/* U+0080..U+009F in UTF-8: C2 80..C2 9F (CSI is U+009B) */
		bool c1 = c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f;

		if (c < 0x20 || c == 0x7f || c1) {
			if (o + 5 > len)
				break;
			if (c1)
				c = s[++i];
			snprintf(dst + o, len - o, "\\x%02x", c);
			o += 4;
		} else {
			dst[o++] = c;
		}
	}
	dst[o] = 0;
	return dst;
}

/*
 * ns / unit with decimals digits, as printf's "%.*f" of ns / (double)unit
 * writes it: round to nearest, and on a tie what the double's own side of
 * it says (exactly at it: to even, printf's rule). Its length in dst.
 */
static int fixed(char *dst, __u64 ns, __u64 unit, int decimals, __u64 step)
{
	__u64 q = ns / step, r = ns % step, scale = unit / step;

	if (r > step / 2) {
		q++;
	} else if (r == step / 2) {
		/* exact: d * unit - ns, rounded once, keeps its sign */
		double d = (double)ns / (double)unit, side = fma(d, (double)unit, -(double)ns);

		q += side > 0 || (side == 0 && (q & 1));
	}
	return numfmt_fixed(dst, q, scale, decimals);
}

char *text__duration(char *buf, size_t len, __u64 ns)
{
	char tmp[64];
	int n;

	if (!len)
		return buf;
	if (ns < 1000) {
		n = numfmt_u64(tmp, ns);
		memcpy(tmp + n, "ns", 2);
	} else if (ns < 1000000) {
		n = fixed(tmp, ns, 1000, 2, 10);
		memcpy(tmp + n, "us", 2);
	} else if (ns < 1000000000000000ULL) {
		/* ns / 1e6 is then within 1.2e-7 of exact: only a tie can go either way */
		n = fixed(tmp, ns, 1000000, 3, 1000);
		memcpy(tmp + n, "ms", 2);
	} else {
		snprintf(buf, len, "%.3fms", ns / 1e6);	/* 11 days: never a pause */
		return buf;
	}
	n += 2;
	if ((size_t)n >= len)
		n = len - 1;
	memcpy(buf, tmp, n);
	buf[n] = 0;
	return buf;
}

char *text__duration_fit(char *buf, size_t len, __u64 ns, size_t width)
{
	static const struct {
		const char *fmt;
		double unit;
	} shorter[] = {
		{ "%.2fms", 1e6 }, { "%.1fms", 1e6 }, { "%.3fs", 1e9 }, { "%.2fs", 1e9 },
		{ "%.1fs", 1e9 }, { "%.0fs", 1e9 },
	};
	size_t i;

	text__duration(buf, len, ns);
	for (i = 0; len && strlen(buf) > width && i < sizeof(shorter) / sizeof(shorter[0]); i++)
		snprintf(buf, len, shorter[i].fmt, ns / shorter[i].unit);
	return buf;
}

char *text__percent_fit(char *buf, size_t len, double pct, size_t width)
{
	int decimals;

	for (decimals = 2; len && decimals >= 0; decimals--) {
		snprintf(buf, len, "%.*f", decimals, pct);
		if (strlen(buf) <= width)
			break;
	}
	return buf;
}

int text__parse_long(const char *arg, long def, long min, long max, long *v)
{
	char *end;
	long n;

	if (!arg) {
		*v = def;
		return 0;
	}
	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || *end || end == arg || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}
