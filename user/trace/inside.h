/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --inside: the samples the kernel takes inside collections (bpf/inside.bpf.h),
 * named (Python frames by code records, native addresses by native.h),
 * kept per thread until their collection's event (or its end record)
 * arrives at the collector's exit, then handed to the event's sinks and
 * counted over the run (inside_agg.h).
 */
#ifndef GCBPF_INSIDE_H
#define GCBPF_INSIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/pystack.h"
#include "trace/inside_agg.h"
#include "trace/native.h"
#include "util/vec.h"

#define INSIDE_DEFAULT_HZ 997	/* not 1000: no lockstep with 1 ms timers */
#define INSIDE_MAX_HZ 20000

/* One sample, named. */
struct inside_sample {
	__u64 ts;
	struct native_sym native;
	bool kernel;		/* interrupted in the kernel (a page fault, a syscall) */
	bool truncated;		/* its Python frames were cut (depth) or unreadable further */
	int nr;			/* Python frames, innermost first */
	struct py_frame_sym *frames;
};

/* A distinct Python stack of one collection's samples. */
struct inside_stack {
	const struct inside_sample *s;	/* its frames */
	__u32 samples;
};

/* A native function of one collection's samples. */
struct inside_func {
	const struct native_sym *sym;
	__u32 samples;
};

/* One collection's samples, as the sinks see them (sink_event.inside). */
struct inside_event {
	__u32 samples;
	const struct inside_sample *all;	/* in time order */
	VEC(struct inside_stack) python;	/* most samples first */
	VEC(struct inside_func) native;		/* most samples first */
};

struct inside_pending;

struct inside {
	unsigned int hz;
	struct pystack *ps;
	struct native native;
	VEC(struct inside_pending *) pending;	/* per thread in a collection */
	struct inside_event cur;
	struct inside_pending *cur_owner;	/* whose samples cur points at */
	struct inside_agg agg;
	struct py_frame_sym scratch[GCBPF_MAX_STACK];
	/* Said at exit. */
	__u64 samples, orphaned, dropped, bad, no_ip, no_walk, truncated, unknown_frames;
};

void inside__init(struct inside *in, struct pystack *ps, unsigned int hz);
/* A GC_REC_SAMPLE or GC_REC_INSIDE_END record from the ring. */
void inside__record(struct inside *in, const void *data, size_t size);
/*
 * e's samples (none: samples 0), valid until the next call; counted into
 * the run's totals (agg) too.
 */
const struct inside_event *inside__take(struct inside *in, const struct gc_event *e);
/* --inside[=HZ]: 0, or -1 when arg is no rate in 1..INSIDE_MAX_HZ. */
int inside__parse_hz(const char *arg, unsigned int *hz);
/* Warnings at exit: samples that could not be attributed or named. */
void inside__report(const struct inside *in, const __u64 *counters);
void inside__free(struct inside *in);

#endif
