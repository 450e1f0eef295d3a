/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A saved trace (what -f jsonl wrote) read back: its collections as the
 * tracer made them (struct gc_event, with their stacks), who each process
 * was (process records), the kernel's totals (summary records) and
 * counters, and the time traced. Several files merge into one trace; a
 * process is its file and pid (pids of two hosts may collide).
 */
#ifndef GCBPF_TRACE_FILE_H
#define GCBPF_TRACE_FILE_H

#include <stdbool.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/py_build.h"
#include "python/pystack.h"
#include "target/identity.h"
#include "trace/totals.h"
#include "util/vec.h"

struct rec_event {
	struct gc_event e;
	int proc;		/* index in trace.procs */
	int build;		/* index in trace.builds, -1: not said */
	bool has_stack;		/* the record had "stack" (--stacks) */
	bool stack_null;	/* ... null: no stacks from its build */
	bool truncated;
	int nr_frames;
	struct py_frame_sym *frames;	/* innermost first; func and file interned */
};

struct rec_proc {
	int file;		/* index in trace.files */
	pid_t pid;
	char comm[GCBPF_COMM_LEN];
	struct identity id;
	bool described;		/* a process record said who it is */
	bool summarized[3];	/* a summary record gave the kernel's totals */
	struct gen_totals kernel[3];	/* the live run's totals (every pause, also lost ones) */
	__u64 events[3];	/* collections the file has events for */
};

struct rec_file {
	const char *path;
	__u64 wall_ns;		/* from the counters record, else the events' span */
	bool has_wall;		/* the counters record said it */
	bool has_counters;
	__u64 first_ns, last_ns;	/* the events' first start and last stop */
	bool truncated;		/* its last line was cut (the writer was killed) */
};

struct trace {
	VEC(struct rec_event) events;
	VEC(struct rec_proc) procs;
	VEC(struct py_build *) builds;
	VEC(struct rec_file) files;
	__u64 counters[GC_CNT_MAX];	/* summed over the files */
	char **strs;		/* interned strings, open addressing */
	size_t strs_cap, strs_used;
};

/* What a report keeps (--pid, --match, --service, --gen, --since, --until). */
struct trace_filter {
	const pid_t *pids;	/* nr_pids of them; 0: every process */
	int nr_pids;
	const char *match;	/* a glob for the command line, NULL: any */
	const char *service;	/* a glob for the service, NULL: any */
	int gen;		/* -1: every generation */
	__u64 since_ns, until_ns;	/* from each file's first collection; until 0: the end */
};

/* Whether p is kept; whether ev (of a kept process) is. */
/* --gen N of report and compare: 0, or -1 (said) when arg is no generation. */
int trace_filter__set_gen(struct trace_filter *f, const char *arg);
bool trace_filter__proc(const struct trace_filter *f, const struct rec_proc *p);
bool trace_filter__event(const struct trace_filter *f, const struct trace *t,
			 const struct rec_event *ev);
/* The time the filter keeps of the trace (its --since/--until window of the wall time). */
__u64 trace_filter__wall_ns(const struct trace_filter *f, const struct trace *t);

void trace__init(struct trace *t);
/* Appends path's records. 0, or -1 with the reason said (file, line, what). */
int trace__read(struct trace *t, const char *path);
void trace__free(struct trace *t);
/* The time traced: the longest file's (files of several hosts run side by side). */
__u64 trace__wall_ns(const struct trace *t);
/* ev's stack as the sinks take it, into st; NULL when the record had none. */
const struct py_stack *trace__stack(const struct rec_event *ev, struct py_stack *st);

#endif
