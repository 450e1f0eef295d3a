/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One interface for every output (after bpftrace's one class per sink):
 * an event format (-f text|jsonl|chrome) or a report (the pause table,
 * --hist, --prometheus) is a struct sink_ops in its own out_*.c file, and
 * user/output.c lists them and decides which stream each writes to.
 */
#ifndef GCBPF_SINK_H
#define GCBPF_SINK_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/py_build.h"
#include "trace/totals.h"

struct py_stack;
struct inside_event;

enum table_format {
	TABLE_PLAIN,
	TABLE_MD,
};

enum hist_mode {
	HIST_NONE,
	HIST_GEN,		/* one per generation, all processes together */
	HIST_PID,		/* one per process and generation */
};

/* --by-stack's N when not given, and gcbpf top --stacks's. */
#define BY_STACK_DEFAULT 10

/* What the user asked of the outputs. */
struct sink_config {
	bool quiet;		/* -q: no per-event output */
	bool live;		/* text's default: long pauses as they happen, and per interval
				 * a line per process that collected (not --all-events) */
	bool stats;		/* --stats: percentiles and GC share in the pause table */
	bool intervals;		/* -i: tables and histograms per interval too */
	enum hist_mode hist;
	enum table_format table;
	const char *prometheus;	/* --prometheus [ADDR:]PORT, or NULL */
	bool prometheus_pid;	/* --prometheus-pid: a series per process, not per service */
	bool advice;		/* --advice */
	bool folded_count;	/* --folded-weight count: folded lines weigh collections, not ns */
	int by_stack;		/* --by-stack[=N]: the N trigger sites at exit (top: live), 0: none */
	bool top;		/* gcbpf top: the live terminal view instead of the streams */
	unsigned int inside_hz;	/* --inside: samples per second per CPU, 0: none */
	bool folded_inside;	/* --folded-what inside: folded lines of the samples, not the triggers */
};

/* One collection as every sink sees it. */
struct sink_event {
	const struct gc_event *e;
	const struct py_build *build;	/* NULL if unknown */
	const struct proc_totals *proc;	/* its process: identity; NULL if unknown */
	const struct py_stack *stack;	/* --stacks: its Python stack (pystack.h), else NULL */
	const struct inside_event *inside;	/* --inside: its samples (trace/inside.h), else NULL */
};

/* A report over the totals (caller holds totals->lock). */
struct sink_report {
	struct totals *totals;	/* counters: the kernel's, as of this report */
	const struct pause_rows *rows;	/* computed once for every sink */
	bool interval;		/* the pauses since the previous interval report, else the run's */
	__u64 wall_ns;		/* the time the report covers, for the GC share */
	__u64 run_ns;		/* the time traced so far */
};

/* The percentiles every pause report gives. */
#define SINK_NQ 4
extern const double sink_quantiles[SINK_NQ];	/* 0.50, 0.90, 0.95, 0.99 */
extern const char *const sink_qnames[SINK_NQ];	/* "p50", ... */

struct sink;

struct sink_ops {
	const char *name;	/* -f NAME for event formats */
	const char *alias;	/* another accepted name, or NULL */
	bool machine;		/* JSON, folded: nothing else may share its stream */
	bool aggregates;	/* writes only at the end: sees every event, also with -q */
	/* Each may be NULL. start: 0 or -errno (said). */
	int (*start)(struct sink *s);
	void (*event)(struct sink *s, const struct sink_event *ev);
	void (*report)(struct sink *s, const struct sink_report *r);
	/* Between polls (~10 times a second): true when the user asked to end. */
	bool (*idle)(struct sink *s);
	/* Before its stream is flushed (every poll, the end): what the sink holds back. */
	void (*flush)(struct sink *s);
	/* The run's last report; the sink closes what it opened (a JSON array). */
	void (*finish)(struct sink *s, const struct sink_report *r);
	void (*free)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	FILE *f;
	const struct sink_config *cfg;
	struct totals *totals;	/* for sinks that read it from their own thread */
	void *priv;		/* the sink's state, its own to allocate and free */
};

/* The sinks, each defined in its out_*.c. */
extern const struct sink_ops text_sink;		/* out_text.c */
extern const struct sink_ops jsonl_sink;	/* out_jsonl.c */
extern const struct sink_ops chrome_sink;	/* out_chrome.c */
extern const struct sink_ops table_sink;	/* out_table.c: the pause table */
extern const struct sink_ops hist_sink;		/* out_hist.c */
extern const struct sink_ops prometheus_sink;	/* out_prometheus.c */
extern const struct sink_ops advice_sink;	/* out_advice.c */
extern const struct sink_ops top_sink;		/* out_top.c */
extern const struct sink_ops folded_sink;	/* out_folded.c */
extern const struct sink_ops bystack_sink;	/* out_bystack.c */
extern const struct sink_ops html_sink;		/* out_html.c */
extern const struct sink_ops inside_sink;	/* out_inside.c: where pause time went */

#endif
