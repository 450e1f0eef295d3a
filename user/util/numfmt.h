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

/* 10^i, i = 0..19 (10^19 is the largest power of ten in 64 bits). */
static const uint64_t numfmt__pow10[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
	10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
};

/* How many decimal digits v has (1 for 0). */
static inline int numfmt_digits(uint64_t v)
{
	/* bits * log10(2), rounded down, is the digit count or one less: one comparison decides */
	int t = (64 - __builtin_clzll(v | 1)) * 1233 >> 12;

	return t + (v >= numfmt__pow10[t]) + (v == 0);
}

static const char numfmt__pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* The 8 digits of v < 10^8, zeros in front: four pairs from independent divisions. */
static inline void numfmt__8(char *p, uint32_t v)
{
	uint32_t hi = v / 10000, lo = v % 10000;

	memcpy(p, numfmt__pairs + 2 * (hi / 100), 2);
	memcpy(p + 2, numfmt__pairs + 2 * (hi % 100), 2);
	memcpy(p + 4, numfmt__pairs + 2 * (lo / 100), 2);
	memcpy(p + 6, numfmt__pairs + 2 * (lo % 100), 2);
}

/* v's digits at dst (room for NUMFMT_MAX), no NUL; their count. */
static inline int numfmt_u64(char *dst, uint64_t v)
{
	int n = numfmt_digits(v);
	char *p = dst + n;
	uint32_t top;

	/*
	 * Eight digits at a time from the right (a timestamp is 14): one 64-bit
	 * division each, then 32-bit work that does not wait on itself.
	 */
	while (v >= 100000000) {
		p -= 8;
		numfmt__8(p, v % 100000000);
		v /= 100000000;
	}
	for (top = v; top >= 100; top /= 100) {
		p -= 2;
		memcpy(p, numfmt__pairs + 2 * (top % 100), 2);
	}
	if (top >= 10)
		memcpy(p - 2, numfmt__pairs + 2 * top, 2);
	else
		p[-1] = '0' + top;
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

/*
 * v / scale, then (decimals > 0) a point and v % scale in exactly decimals
 * digits, zeros in front (scale = 10^decimals): exact, at dst (room for
 * 2 * NUMFMT_MAX + 1); the length.
 */
static inline int numfmt_fixed(char *dst, uint64_t v, uint64_t scale, int decimals)
{
	int n = numfmt_u64(dst, v / scale), f;

	if (decimals <= 0)
		return n;
	dst[n++] = '.';
	f = numfmt_digits(v % scale);
	memset(dst + n, '0', decimals - f);
	numfmt_u64(dst + n + decimals - f, v % scale);
	return n + decimals;
}

#endif
