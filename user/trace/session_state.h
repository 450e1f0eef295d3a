/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One run's state, shared by the session's files: session.c (the modes'
 * entry points, signals, a tracing run from open to report),
 * session_targets.c (-p and a command resolved to builds), session_loop.c
 * (the poll loop) and session_list.c (--list, --bpftrace). Callers use
 * session.h.
 */
#ifndef GCBPF_SESSION_STATE_H
#define GCBPF_SESSION_STATE_H

#include <signal.h>
#include "out/output.h"
#include "python/py_build.h"
#include "python/pystack.h"
#include "trace/inside.h"
#include "target/follow.h"
#include "target/launch.h"
#include "target/target.h"
#include "trace/session.h"
#include "trace/totals.h"
#include "trace/tracer.h"

struct session {
	const struct options *opt;
	struct tracer tracer;
	struct outputs out;
	struct totals totals;
	struct follower follow;	/* launch mode and system-wide: binaries as they come */
	struct launch child;	/* launch mode's command */
	struct target targets[MAX_TARGETS];
	struct py_build builds[MAX_TARGETS];
	int pidfds[MAX_TARGETS];	/* -p: readable once the target exited; -1: /proc says */
	int nr_targets;
	__u64 start_ns;		/* tracing began (CLOCK_MONOTONIC) */
	int write_err;		/* an output could not be written */
	struct pystack stacks;	/* --stacks, --inside: names frames */
	struct inside inside;	/* --inside */
	struct target_pidns pidns;	/* gcbpf's PID namespace, whose pids are reported */
};

/* The signal that ends the run, 0 while it goes on (session.c). */
extern volatile sig_atomic_t exiting;

/* The targets of -p, or the interpreter a command will run; said on failure. */
int session__resolve_targets(struct session *s);
/* --list: each target's binary, version and probe path, and why; no target: the host's. */
int session__list(struct session *s);
/* --bpftrace: a one-liner per target. */
int session__oneliner(struct session *s);
/* The kernel's histograms and counters into the totals; retire: also retire the gone. */
void session__refresh(struct session *s, bool retire);
/* Events until the run ends; 0 or -errno. */
int session__poll_loop(struct session *s);

#endif
