/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one source of per-process, per-generation totals: the kernel's pause
 * histograms (every pause, counted before any filter or the ring buffer,
 * so exact under loss), copied in by the loader, plus what events tell about
 * each process (name, heap gauges) and its container. The exit table,
 * --stats, --hist and Prometheus all read it; the exporter from its own
 * thread, under the lock.
 *
 * Memory stays bounded while processes come and go: a process that exited
 * more than a grace period ago is retired, its histograms merged into the
 * run's retired histograms (for the totals' percentiles), freed, and
 * deleted from the kernel; its row keeps exact counts and sums.
 */
#ifndef GCBPF_TOTALS_H
#define GCBPF_TOTALS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/gc_config.h"
#include "python/gc_state.h"
#include "hist.h"
#include "target/identity.h"
#include "trace/growth.h"
#include "util/vec.h"

struct py_stack;
struct inside_agg;

/* What a row shows of one generation; equal to the histogram's header. */
struct gen_totals {
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u64 collected;
	__u64 uncollectable;
};

struct proc_totals {
	pid_t pid;
	char comm[GCBPF_COMM_LEN];
	struct identity id;	/* command line, unit, container, service: read once */
	int service;		/* index in totals.services */
	struct gen_totals gen[3];	/* as of the last refresh */
	struct gc_hist *hist[3];	/* the same with buckets; NULL: none yet, or retired */
	struct gc_hist *base[3];	/* as of the last interval report */
	__s64 heap_size;	/* last event's, -1 unknown */
	__s64 long_lived_total;	/* last event's, -1 unknown */
	__s64 rss;		/* last event's resident memory, bytes, -1 unknown */
	struct gc_config gc;	/* its thresholds, read from its memory (the session) */
	/* This image's collections before gcbpf armed it, read from its memory then
	 * (NONE: armed before it exec'd); lowered by its first event of a generation
	 * if the read counted collections the probes timed too. */
	struct gc_counts before;
	__u64 untimed_prev[3];	/* earlier images' (a -p target's exec): not timed either */
	bool gen_seen[3];	/* this image had an event of that generation */
	int image;		/* execs into a traced interpreter since the row was made */
	struct growth growth;	/* pause against objects examined and uptime (--advice, top) */
	__u64 exited_ns;	/* CLOCK_MONOTONIC when seen gone, 0 while alive */
	bool retired;		/* no buckets, no kernel entries, not exported */
	/* gcbpf report: the live run's totals its summary records kept (every pause, also
	 * those whose events were lost); the rows then come from the events */
	bool recorded[3];
	struct gen_totals kernel[3];
};

/*
 * A service (identity.service) across its processes, for the exporter: the
 * pauses of its retired processes are kept here, so its counters never go
 * backwards while processes come and go.
 */
struct service_totals {
	char name[IDENTITY_NAME_LEN];
	char container[16];
	struct gc_hist *retired[3];
	__u64 untimed[3];	/* its retired processes' collections not timed */
	__u64 idle_since_ns;	/* CLOCK_MONOTONIC when its last process was retired, 0: live */
	bool dropped;		/* idle too long: no longer exported */
};

struct totals {
	pthread_mutex_t lock;
	bool hide_args;		/* --hide-args: command lines without their arguments */
	const char *match;	/* --match: a glob for the command line, NULL: all */
	VEC(struct proc_totals) procs;
	VEC(struct service_totals) services;
	int last;		/* index of the last process looked up */
	struct gc_hist *retired[3];	/* every pause of retired processes */
	__u64 counters[GC_CNT_MAX];	/* the kernel's, as of the last refresh */
	__u64 before_unknown;	/* processes whose collections before arming could not be read */
	struct inside_agg *inside;	/* --inside: sampled pause time (inside_agg.h), else NULL */
};

void totals__init(struct totals *t, bool hide_args, const char *match);
void totals__free(struct totals *t);
/*
 * The live row for pid, created with its identity read from /proc (comm
 * names it if /proc no longer has it). Caller holds lock.
 */
struct proc_totals *totals__proc(struct totals *t, pid_t pid, const char *comm);
/*
 * pid exec'd a traced interpreter: its identity is read now, while it runs
 * (a short-lived process may be gone by its first event). Takes the lock.
 */
void totals__exec(struct totals *t, pid_t pid);
/*
 * pid's collections before gcbpf armed its current image (after
 * totals__exec for an exec), as gc_state__read_counts read them. Takes the lock.
 */
void totals__before(struct totals *t, pid_t pid, const struct gc_counts *c);
/* Generation g's collections p ran that were not timed: before gcbpf armed it, every image. */
__u64 totals__untimed(const struct proc_totals *p, int g);
/* What the last event says of its process: name, heap, long-lived, RSS (-1: kept). */
void totals__gauges(struct proc_totals *p, const struct gc_event *e);
/* What an event adds: the process's name, heap gauges. Its row (NULL: out of memory). */
const struct proc_totals *totals__event(struct totals *t, const struct gc_event *e);
/* The event (and its stack, else NULL) into its process's growth. Takes the lock. */
void totals__growth(struct totals *t, const struct gc_event *e, const struct py_stack *st);
/* Copies one kernel histogram in (a tracer_hist_fn). Caller holds lock. */
void totals__set_hist(void *ctx, const struct gc_hist_key *key, const struct gc_hist *h);
/*
 * Retires processes gone for grace_ns or more (now: CLOCK_MONOTONIC); their
 * pids, whose kernel entries the caller deletes, go to out (at most max).
 * Caller holds lock, and refreshed the histograms just before.
 */
int totals__retire(struct totals *t, __u64 now, __u64 grace_ns, pid_t *out, int max);
/* Ordered by pid. Caller holds lock. */
void totals__sort(struct totals *t);
/* Services idle for idle_ns or more are dropped (the exporter's expiry). Caller holds lock. */
void totals__expire_services(struct totals *t, __u64 now, __u64 idle_ns);
/*
 * The pauses of one generation for a report: since the last interval report
 * (which becomes the new base), or the whole run; NULL when the process has
 * none or is retired (its gen[] totals still hold). Caller holds lock.
 */
const struct gc_hist *totals__hist(struct proc_totals *p, int gen, bool interval,
				   struct gc_hist *scratch);

/* One row of a pause report: a process's generation, or every process or generation together. */
struct pause_row {
	const struct proc_totals *proc;	/* NULL: every process together */
	int gen;			/* 0..2; -1: every generation */
	int parts;			/* gen -1: how many generation rows it sums */
	struct gen_totals t;
	const struct gc_hist *hist;	/* the buckets, for percentiles; NULL when retired */
};

/*
 * Every row of one report, computed once for all sinks: per process (by
 * pid) its generations then their sum, then every process together per
 * generation and in all.
 */
struct pause_rows {
	struct pause_row *rows;
	int nr;
	int nr_procs;		/* processes with pauses in the report */
	struct gc_hist *store;	/* the merged and interval histograms the rows point to */
};

/*
 * The rows of a report: the pauses since the last interval report (which
 * becomes the new base) or the whole run. 0 or -ENOMEM. Caller holds lock.
 */
int totals__rows(struct totals *t, bool interval, struct pause_rows *out);
void pause_rows__free(struct pause_rows *r);

#endif
