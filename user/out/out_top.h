/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gcbpf top's state, shared by its two files: out_top.c (the sink: rows
 * from each report, trigger sites from events, keys) and out_top_view.c
 * (the screen drawn from them). Callers use top_sink (sink.h).
 */
#ifndef GCBPF_OUT_TOP_H
#define GCBPF_OUT_TOP_H

#include "out/top_messages.h"
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "out/advice.h"
#include "out/sink.h"
#include "trace/inside_agg.h"
#include "trace/stack_agg.h"
#include "util/vec.h"

enum top_sort { SORT_SHARE, SORT_MAX, SORT_RATE, SORT_PID, SORT_SERVICE, SORT_NR };

struct top_row {
	pid_t pid;
	char who[IDENTITY_NAME_LEN];	/* unit, else the command */
	double share;		/* pause time over wall time, last interval */
	double rate[3];		/* collections/s per generation, last interval */
	__u64 p50, p99, max;	/* last interval */
	__u64 all_p50[3], all_p99[3], all_max[3], all_count[3], all_sum[3];	/* since start */
	__s64 heap;		/* tracked objects (3.14+) or long-lived, -1 unknown */
	__s64 rss;		/* bytes, -1 unknown */
	struct gc_config gc;	/* its thresholds, as last read */
	bool live;
};

/* --stacks: one process's collections by trigger site. */
struct top_stacks {
	pid_t pid;
	struct stack_agg agg;
};

struct top_out {
	struct top_row *rows;
	int nr;
	enum top_sort sort;
	pid_t selected;		/* the selected process (j/k), 0: the first row */
	__u64 wall_ns;		/* of the last interval */
	__u64 started_ns;	/* CLOCK_MONOTONIC when top started */
	struct advice advice;	/* for the selected process */
	VEC(struct top_stacks) stacks;	/* --stacks: per process */
	int last_stacks;	/* index of the last process an event went to */
	__u64 lost;		/* events the kernel could not send (sites undercount) */
	int sites;		/* --stacks: trigger sites to show (--by-stack=N), 0: none */
	const struct inside_agg *inside;	/* --inside: the run's samples (the session's) */
	struct top_messages msgs;	/* Armed ..., warnings: the newest on the last lines */
	bool reported;		/* a first report came */
	bool quit;
	bool screen;		/* curses is up */
};

/* Draws the whole screen from t. */
void top__draw(struct top_out *t);
/* The selected process's row: t->selected, else the first; -1: no rows. */
int top__selected_index(struct top_out *t);
/* --stacks: pid's trigger sites, NULL if none yet. */
struct top_stacks *top__stacks_of(struct top_out *t, pid_t pid);

#endif
