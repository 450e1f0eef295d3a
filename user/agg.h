/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-space copy of the kernel's per-(pid, generation) pause histograms,
 * refreshed from the hists map, plus what events tell about each process
 * (comm, heap size, container). Statistics, --hist and the Prometheus
 * exporter all read it; the exporter from its own thread, under lock.
 */
#ifndef GCBPF_AGG_H
#define GCBPF_AGG_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "hist.h"
#include "stats.h"

struct agg_proc {
	pid_t pid;
	char comm[GCBPF_COMM_LEN];
	char container[16];	/* short container id from /proc/PID/cgroup, "" if none */
	struct gc_hist *cur[3];	/* as of the last refresh; NULL: none yet */
	struct gc_hist *prev[3];	/* as of the last interval report */
	__s64 heap_size;	/* last event's, -1 unknown */
	__s64 long_lived_total;	/* last event's, -1 unknown */
	double exited_at;	/* CLOCK_MONOTONIC s when seen gone, 0 while alive */
	bool forgotten;		/* kernel entries deleted; no longer exported */
};

struct agg {
	pthread_mutex_t lock;	/* the exporter thread reads under it */
	struct agg_proc *procs;
	int nr, cap;
	__u64 counters[GC_CNT_MAX];
};

void agg__init(struct agg *a);
void agg__free(struct agg *a);
/* The process entry for pid, created (comm from /proc unless given). Caller holds lock. */
struct agg_proc *agg__proc(struct agg *a, pid_t pid, const char *comm);
/* What an event adds: comm, heap gauges. Takes the lock. */
void agg__event(struct agg *a, const struct gc_event *e);
/* Copies one kernel histogram in (tracer_hist_fn). Caller holds lock. */
void agg__set_hist(void *ctx, const struct gc_hist_key *key, const struct gc_hist *h);
/*
 * Marks processes that have gone; returns how many exited more than
 * expire_s ago and are not yet forgotten, their pids in out (at most max).
 * Caller holds lock.
 */
int agg__expired(struct agg *a, double now, double expire_s, pid_t *out, int max);
/* Ordered by pid. Caller holds lock. */
void agg__sort(struct agg *a);
/* The interval's pauses: cur - prev, then prev = cur. out[g] zeroed if none. */
void agg__interval(struct agg_proc *p, struct gc_hist *out[3]);
/* Totals per process and generation, as the summary prints them. */
void agg__to_stats(struct agg *a, struct stats *s);

#endif
