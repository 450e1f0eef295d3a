/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Integers in decimal, as printf's %llu/%lld write them, for the per-event
 * writers (JSON, text): printf parses its format and takes the stream's lock
 * for every number, several times the cost of the digits themselves.
 */
#ifndef GCBPF_NUMFMT_H
#define GCBPF_NUMFMT_H

#include <stdint.h>
#include <string.h>

/* The most a 64-bit integer takes: "-9223372036854775808". */
#define NUMFMT_MAX 20

/* v's digits at dst (room for NUMFMT_MAX), no NUL; their count. */
static inline int numfmt_u64(char *dst, uint64_t v)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[NUMFMT_MAX];
	int i = NUMFMT_MAX;

	/* Two digits per division: half the divisions of one at a time. */
	while (v >= 100) {
		unsigned int r = v % 100;

		v /= 100;
		tmp[--i] = pairs[2 * r + 1];
		tmp[--i] = pairs[2 * r];
	}
	if (v >= 10) {
		tmp[--i] = pairs[2 * v + 1];
		tmp[--i] = pairs[2 * v];
	} else {
		tmp[--i] = '0' + v;
	}
	memcpy(dst, tmp + i, NUMFMT_MAX - i);
	return NUMFMT_MAX - i;
}

static inline int numfmt_s64(char *dst, int64_t v)
{
	if (v >= 0)
		return numfmt_u64(dst, v);
	*dst = '-';
	/* -(v + 1) + 1: INT64_MIN's magnitude without overflow */
	return 1 + numfmt_u64(dst + 1, (uint64_t)-(v + 1) + 1);
}

#endif
