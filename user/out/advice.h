/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What to do about what was measured: recommendations a Python engineer can
 * apply, each with the numbers behind it. No advice without its evidence.
 */
#ifndef GCBPF_ADVICE_H
#define GCBPF_ADVICE_H

#include <linux/types.h>
#include "trace/totals.h"

/* The bounds the advice is given at. */
#define ADVICE_BOUND_SHARE 0.05		/* GC above 5% of wall time */
#define ADVICE_BOUND_GEN2_NS 50000000ULL	/* a gen-2 pause of 50 ms or more */
#define ADVICE_BOUND_GEN0_RATE 100.0		/* gen-0 collections per second ... */
#define ADVICE_BOUND_GEN0_FREED 1.0		/* ... freeing less than this per collection */

enum advice_kind {
	ADVICE_GC_SHARE,
	ADVICE_GEN2_PAUSES,
	ADVICE_GEN0_EMPTY,
	ADVICE_UNCOLLECTABLE,
};

struct advice_item {
	enum advice_kind kind;
	char text[448];
};

struct advice {
	struct advice_item *items;
	int nr;
};

/*
 * The advice for one process from its rows in `all` (a whole-run report)
 * over run_ns of tracing. Appends to a; caller frees with advice__free.
 */
void advice__for_process(struct advice *a, const struct proc_totals *p,
			 const struct pause_rows *all, __u64 run_ns);
void advice__free(struct advice *a);
/* "gc-share", "gen2-pauses", "gen0-empty", "uncollectable" */
const char *advice__name(enum advice_kind kind);

#endif
