/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the user asked (struct options, filled once by option parsing, with
 * the run mode named) and one run of it: the modes' entry points.
 */
#ifndef GCBPF_SESSION_H
#define GCBPF_SESSION_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "out/sink.h"
#include "trace/tracer.h"

#define MAX_TARGETS 64
/* The default text view: pauses of at least this as they happen, and a line per process per second. */
#define LIVE_MIN_NS 1000000ULL
#define LIVE_INTERVAL_NS 1000000000ULL

enum run_mode {
	MODE_PIDS,		/* -p PID[,PID...]: running processes */
	MODE_LAUNCH,		/* -- CMD: the command and every process it starts */
	MODE_SYSTEM,		/* -a, or no target: every Python process, also later ones */
	MODE_LIST,		/* --list: each target's binary, version and probe */
	MODE_ONELINER,		/* --bpftrace: a bpftrace one-liner per target */
};

struct options {
	enum run_mode mode;
	pid_t pids[MAX_TARGETS];
	int nr_pids;
	char **cmd;		/* after -- */
	__u64 duration_ns;	/* -d, 0: until the end */
	__u64 interval_ns;	/* -i, 0: none */
	const char *output_path;	/* -o */
	const struct sink_ops *format;	/* -f */
	struct sink_config sinks;
	bool force_uprobe;
	enum tracer_programs programs;
	__u64 min_ns;		/* --min-ms */
	const char *comm;	/* --comm */
	const char *match;	/* --match: a glob for the command line */
	bool hide_args;		/* --hide-args */
	const char *cgroup;	/* --cgroup PATH or container id */
	int gen;		/* --gen, -1: all */
	int stack_depth;	/* --stacks[=DEPTH], 0: no stacks */
	unsigned int inside_hz;	/* --inside[=HZ], 0: no sampling */
	bool strict;		/* --strict: every -p PID must be traced */
};

/* The mode's entry point; returns the process exit status. */
int session__run(const struct options *opt);

/* SIGINT and SIGTERM end the run (launch mode: see session.c); SIGPIPE is ignored. */
void session__catch_signals(void);

#endif
