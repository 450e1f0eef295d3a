// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include "text.h"

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

char *text__duration(char *buf, size_t len, __u64 ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.2fus", ns / 1e3);
	else
		snprintf(buf, len, "%.3fms", ns / 1e6);
	return buf;
}
