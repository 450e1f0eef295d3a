/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pauses per distinct Python stack at the trigger, for the views that rank
 * causes: -f folded (flame graphs) and --by-stack. Frames are interned by
 * the symbolizer, so a stack is a sequence of (func, file, line) pointers.
 */
#ifndef GCBPF_STACK_AGG_H
#define GCBPF_STACK_AGG_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "gcbpf.h"	/* before hist.h, which uses it */
#include "hist.h"
#include "python/pystack.h"

struct stack_site {
	struct py_frame_sym *frames;	/* innermost first */
	int nr;
	bool truncated;		/* the stack was cut: outer frames are missing */
	bool unavailable;	/* no stack from this build */
	__u64 count[3], sum_ns[3], max_ns[3];
	struct gc_hist *hist[3];	/* with percentiles: the pauses, for p99 */
	__u64 hash;
};

struct stack_agg {
	struct stack_site *sites;
	int nr, cap;
	int *index;		/* open addressing: site index + 1, 0 empty */
	int index_cap;
	bool percentiles;	/* keep a histogram per site and generation */
	__u64 events;		/* collections counted */
	__u64 no_memory;	/* collections not counted: out of memory */
};

void stack_agg__init(struct stack_agg *a, bool percentiles);
/* One collection of generation gen (0..2), ns long, triggered at st (NULL: unknown). */
void stack_agg__add(struct stack_agg *a, const struct py_stack *st, int gen, __u64 ns);
/* The sites by total pause, largest first (ends adding: the index is dropped). */
void stack_agg__sort(struct stack_agg *a);
/*
 * The same ranking without reordering, so adding goes on (a live view):
 * *out (malloc'ed, caller frees) points at the sites in rank order. Returns
 * how many, -1 when out of memory.
 */
int stack_agg__ranked(const struct stack_agg *a, const struct stack_site ***out);
/*
 * One frame as flame graphs name it: "func (file:line)", with ';' (their
 * separator) and control characters replaced. Returns buf.
 */
char *stack_agg__frame_name(char *buf, size_t len, const struct py_frame_sym *f);
void stack_agg__free(struct stack_agg *a);

#endif
