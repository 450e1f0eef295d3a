/* SPDX-License-Identifier: GPL-2.0 */
/* Pause statistics per process and generation, from every event seen. */
#ifndef GCBPF_STATS_H
#define GCBPF_STATS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"

struct gen_totals {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
	__s64 collected;
	__s64 uncollectable;
};

struct proc_stats {
	pid_t pid;
	char comm[GCBPF_COMM_LEN];
	char container[16];	/* short container id, "" if none */
	bool labelled;		/* container looked up */
	struct gen_totals gen[3];
};

struct stats {
	struct proc_stats *procs;
	int nr, cap;
};

/* Counts e; returns its process's entry (NULL for an invalid generation). */
struct proc_stats *stats__add(struct stats *s, const struct gc_event *e);
/* Ordered by pid; NULL-safe iteration with stats->procs[0..nr). */
void stats__sort(struct stats *s);
void stats__free(struct stats *s);

#endif
