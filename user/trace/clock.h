/* SPDX-License-Identifier: GPL-2.0 */
/* Nanoseconds of a clock: CLOCK_MONOTONIC is bpf_ktime_get_ns()'s clock. */
#ifndef GCBPF_CLOCK_H
#define GCBPF_CLOCK_H

#include <time.h>
#include <linux/types.h>

static inline __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline __u64 mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

#endif
