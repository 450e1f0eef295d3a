/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Following processes as they come: a command's whole tree (launch mode) or
 * every process on the host (system-wide). Probes are armed once per
 * interpreter binary (device and inode) for every process (pid -1), so new
 * processes of a known binary need nothing from user space; only a new
 * binary, seen at exec or in a scan of /proc, is inspected and armed.
 */
#ifndef GCBPF_FOLLOW_H
#define GCBPF_FOLLOW_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "python/gc_state.h"
#include "python/py_build.h"
#include "trace/tracer.h"

struct seen_binary {
	dev_t dev;
	ino_t ino;
	int build;		/* tracer build index, -1: not traceable */
	__u64 armed_ns;		/* CLOCK_MONOTONIC when its probes were in place */
};

/* A Python build inspected already, by content: a second file with it is not inspected again. */
struct known_build {
	char id[80];		/* its build id (hex) */
	off_t size;		/* and size: a stripped copy shares the id, not the symbols */
	int build;		/* tracer build index */
};

struct follower {
	struct tracer *tracer;
	struct py_build_opts build_opts;
	struct seen_binary *seen;
	int nr_seen, cap_seen;
	bool per_pid;		/* -p: probes for the exec'ing process only, not every process */
	int nr_armed;		/* binaries with probes */
	int nr_failed;		/* binaries that could not be armed (said) */
	int err;		/* the first arming error, a permission error first: -errno */
	__u64 max_arm_ns;	/* slowest exec-to-armed so far */
	__u64 last_scan_ns;	/* how long the last scan of /proc took */
	__u64 scan_start_ns;	/* when the scan under way began */
	int nr_scans;		/* scans done */
	/* A process found in a scan that collected before its binary was armed
	 * (gcbpf started after it, or its binary was new): what it ran untraced. */
	void (*on_before)(void *ctx, pid_t pid, const struct gc_counts *before);
	void *ctx;
	struct known_build *known;
	int nr_known, cap_known;
	int nr_prearmed;	/* files armed at the start from the usual install locations */
};

void follower__init(struct follower *f, struct tracer *t, const struct py_build_opts *opts);
/*
 * System-wide, before the first scan: arms the interpreters and libpythons
 * installed in the usual locations (docs/untimed.md), so that a process
 * starting one of them is traced from its exec on. Bounded; returns how many.
 */
int follower__prearm(struct follower *f);
/* Arms every interpreter binary mapped by a running process; returns how many. */
int follower__scan(struct follower *f);
/*
 * An exec the BPF side reported: arm a new binary, continue a stopped
 * process (launch mode). True when the process now runs a traced interpreter;
 * before: the collections it ran before its probes were in place (state NONE:
 * they were in place at its exec).
 */
bool follower__on_exec(struct follower *f, const struct gc_proc_event *e,
		       struct gc_counts *before);
void follower__free(struct follower *f);

#endif
