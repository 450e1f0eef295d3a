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

/* How many decimal digits v has (1 for 0). */
static inline int numfmt_digits(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
		100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
		10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
		10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL,
	};
	/* bits * log10(2) is the digit count or one more: one comparison decides */
	int t = (64 - __builtin_clzll(v | 1)) * 1233 >> 12;

	return t + (v >= pow10[t]) + (v == 0);
}

/* v's digits at dst (room for NUMFMT_MAX), no NUL; their count. */
static inline int numfmt_u64(char *dst, uint64_t v)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	int n = numfmt_digits(v);
	char *p = dst + n;

	/* Two digits per division, written in place from the right. */
	while (v >= 100) {
		unsigned int r = v % 100;

		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(p - 2, pairs + 2 * v, 2);
	else
		p[-1] = '0' + v;
	return n;
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
