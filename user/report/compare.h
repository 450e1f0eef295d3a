/* SPDX-License-Identifier: GPL-2.0 */
/* gcbpf compare's rows, their output (text, jsonl), --fail-if and --stacks (compare_out.c). */
#ifndef GCBPF_COMPARE_H
#define GCBPF_COMPARE_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "report/trace_file.h"
#include "util/vec.h"

#define CMP_METRICS 7	/* rate, p50, p90, p99, shift, max, share */
#define CMP_BINS 20	/* time windows the share's bootstrap resamples */

struct cmp_side {
	const char *path;
	struct trace t;
	double wall_s;		/* the time the trace covers (its filter's window) */
};

/* One row: a service (pid, command line) and generation, its pauses on each side. */
struct cmp_group {
	char key[IDENTITY_CMDLINE_LEN];
	int gen;
	VEC(__u64) d[2];	/* pauses in ns, BEFORE and AFTER, sorted before use */
	__u64 sum[2];
	__u64 bins[2][CMP_BINS];	/* pause per time window of its trace, for the share */
};

struct cmp_groups {
	struct cmp_group *items;
	int nr, cap;
};

/* One metric of a row: the values, the change after/before - 1, its 95% interval. */
struct cmp_metric {
	const char *name;	/* "rate", "p50", ... */
	const char *method;	/* "poisson", "bootstrap", "hodges-lehmann", "none" */
	bool ns;		/* a duration (else a rate /s or a share) */
	bool has_ci;
	bool too_few;		/* too few collections for an interval */
	double before, after;
	double change, lo, hi;	/* relative: 0.1 is +10% */
	const char *verdict;	/* "better", "worse", "no significant change", "too few", "-" */
};

/* --fail-if [genN.]METRIC(>|<)[+-]N% */
struct fail_if {
	char text[64];
	int gen;		/* -1: any */
	char metric[8];
	bool greater;
	double bound;		/* relative */
};

/* 0, or -1 when text is no condition. */
int compare__parse_fail_if(const char *text, struct fail_if *c);
/* How many conditions hold for the row (said on stderr, one line each). */
int compare__check_fail_if(const struct fail_if *c, int nr, const struct cmp_group *g,
			   const struct cmp_metric *m, int n);

void compare__header(FILE *f, bool jsonl, const struct cmp_side side[2], double min_change,
		     double run_noise, int resamples, __u64 seed);
/* A row: its metrics (n of them), or, with n 0, the side it is found on only. */
void compare__print_row(FILE *f, bool jsonl, const char *by, const struct cmp_group *g,
			const struct cmp_metric *m, int n);
/* --stacks: the trigger sites whose GC time per second changed most. */
void compare__stacks(FILE *f, bool jsonl, struct cmp_side side[2], int top, double min_change);
void compare__footer(FILE *f, bool jsonl, const struct cmp_groups *gs, int failed);

#endif
