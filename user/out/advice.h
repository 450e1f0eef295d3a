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
/* Growth (advice_growth.c): a fit that explains at least this much of the pauses ... */
#define ADVICE_BOUND_FIT_R2 0.5
#define ADVICE_BOUND_GROWTH_NS 1000000.0	/* ... of a mean pause of 1 ms or more */
#define ADVICE_BOUND_TREND 0.2		/* against uptime: a rise of 20% over the run ... */
#define ADVICE_BOUND_TREND_SPAN_H (30.0 / 3600)	/* ... of 30 s or more: no hour from seconds */
#define ADVICE_BOUND_EMPTY_COUNT 2	/* gen 1-2 collections that freed (almost) nothing ... */
#define ADVICE_BOUND_EMPTY_SHARE 0.5	/* ... with half of that generation's pause time */

enum advice_kind {
	ADVICE_GC_SHARE,
	ADVICE_GEN2_PAUSES,
	ADVICE_GEN0_EMPTY,
	ADVICE_UNCOLLECTABLE,
	ADVICE_PAUSE_GROWTH,
	ADVICE_PAUSE_TREND,
	ADVICE_EMPTY,
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
/* "gc-share", "gen2-pauses", "gen0-empty", "uncollectable", "pause-growth", "pause-trend",
 * "empty-collections" */
const char *advice__name(enum advice_kind kind);
__attribute__((format(printf, 3, 4)))
void advice__add(struct advice *a, enum advice_kind kind, const char *fmt, ...);

/* advice_growth.c: the items from the process's growth (trace/growth.h) and gc.freeze(). */
void advice__growth(struct advice *a, const struct proc_totals *p);
/* One generation's fits in a line ("" when it had no events), for --advice and top. */
void advice__growth_line(char *buf, size_t len, const struct proc_totals *p, int gen);
struct json_writer;
/* The fields of a {"type":"advice"} record after its identity: fits, frozen, items. */
void advice__json(struct json_writer *w, const struct proc_totals *p, const struct advice *a);

#endif
