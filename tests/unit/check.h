/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal unit-test helpers. CHECK() counts and reports; check_done() prints
 * "test_NAME: N passed, M failed, K skipped" (NAME from the including file) and returns
 * the exit status: return check_done(); from main().
 */
#ifndef GCBPF_TEST_CHECK_H
#define GCBPF_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_skipped;

#define CHECK(cond, ...)							\
	({									\
		bool __ok = !!(cond);						\
		if (__ok) {							\
			check_passed++;						\
		} else {							\
			check_failed++;						\
			fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
		}								\
		__ok;								\
	})

/* Equality of two integers, printing both on failure. */
#define CHECK_EQ(a, b)								\
	CHECK((long long)(a) == (long long)(b), "%s = %lld (%#llx), expected %lld (%#llx)", #a, \
	      (long long)(a), (unsigned long long)(a), (long long)(b), (unsigned long long)(b))

/* Equality of two C strings (NULL is never equal). */
#define CHECK_STR(a, b)								\
	({									\
		const char *__a = (a), *__b = (b);				\
		CHECK(__a && __b && !strcmp(__a, __b), "%s = \"%s\", expected \"%s\"", #a, \
		      __a ? __a : "(null)", __b ? __b : "(null)");		\
	})

/* A part of the test that cannot run here: said, and counted as a skip. */
#define SKIP(...)								\
	do {									\
		check_skipped++;						\
		fprintf(stderr, "%s:%d: SKIP: ", __FILE__, __LINE__);		\
		fprintf(stderr, __VA_ARGS__);					\
		fputc('\n', stderr);						\
	} while (0)

static inline int check_done_file(const char *file)
{
	const char *base = strrchr(file, '/');
	size_t n;

	base = base ? base + 1 : file;
	n = strcspn(base, ".");
	printf("%.*s: %d passed, %d failed, %d skipped\n", (int)n, base, check_passed, check_failed,
	       check_skipped);
	fflush(stdout);
	return check_failed ? 1 : 0;
}

#define check_done() check_done_file(__FILE__)

#endif
