/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF side as user space drives it: load, attach per build, read events. */
#ifndef GCBPF_TRACER_H
#define GCBPF_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "hist.h"
#include "python/py_build.h"
#include "util/vec.h"

struct gcbpf_bpf;
struct ring_buffer;
struct bpf_link;
struct pystack;
struct inside;

typedef void (*tracer_event_fn)(void *ctx, const struct gc_event *e);

/* What the probes run: gcbpf, or a benchmark's floor on the same points. */
enum tracer_programs {
	PROGRAMS_GCBPF = 0,
	PROGRAMS_EMPTY,		/* programs that do nothing: the cost of the probes */
	PROGRAMS_CLOCK,		/* a timestamp per thread at entry, a duration at exit */
	PROGRAMS_EMPTY_ONE,	/* one that does nothing on one point: a one-trap design's floor */
};

struct tracer_opts {
	enum tracer_programs programs;
	__u64 min_ns;		/* per-event output only for pauses >= min_ns */
	bool aggregate;		/* count every pause into the kernel's histograms */
	bool events;		/* an event per collection (else only aggregate: cheaper) */
	bool follow;		/* only processes added with tracer__track() and their children */
	bool stop_on_exec;	/* with follow: stop them at exec until tracer__continue() */
	bool watch_exec;	/* -p: report execs of the processes added with tracer__track() */
	bool report_exec;	/* report every exec on the host (system-wide mode) */
	const char *comm;	/* only processes with this comm */
	int cgroup_fd;		/* > 0: only tasks in this cgroup (v2) and below */
	/* Not in the initial PID namespace: pids reported are this one's (dev, ino
	 * as target__pid_ns gives them), tasks outside it ignored. */
	bool pidns;
	__u64 pidns_dev, pidns_ino;
	bool filter_gen;	/* only generation gen */
	int gen;
	void (*on_exec)(void *ctx, const struct gc_proc_event *e);
	tracer_event_fn on_event;
	void (*on_batch)(void *ctx);	/* after each poll's events, to flush output */
	struct pystack *stacks;	/* names frames (--stacks, --inside); NULL: no frames walked */
	int stack_depth;	/* --stacks: frames per event, 0: none */
	unsigned int inside_hz;	/* --inside: samples per second per CPU, 0: none */
	struct inside *inside;	/* ... where the samples go */
	void *ctx;
};

struct tracer_attached {
	int build;
	pid_t pid;		/* -1: every process */
};

struct tracer {
	struct gcbpf_bpf *skel;
	struct ring_buffer *rb;
	struct tracer_opts opts;
	struct py_build *builds[GCBPF_MAX_BINARIES];
	int nr_builds;
	int nr_probes;
	VEC(struct bpf_link *) links;
	const struct gc_stack *ev_stack;	/* during on_event: the event's stack, or NULL */
	VEC(struct tracer_attached) attached;	/* tracer__attach() done, once each */
	pid_t watchdog;		/* stop_on_exec: continues the stopped processes if gcbpf dies */
	int watchdog_fd;	/* our end of its pipe: EOF tells it gcbpf ended */
};

/* Checks privileges and kernel support, loads the programs. 0 or -errno, why in err. */
int tracer__open(struct tracer *t, const struct tracer_opts *opts, char *err, size_t err_len);
/* Registers a build (once per file, by device and inode); returns its index or -errno. */
int tracer__add_build(struct tracer *t, const struct py_build *b);
/*
 * Attaches a build's probes for one process (pid -1: every process); again
 * for the same pair is a no-op. 0 or -errno, why in err.
 */
int tracer__attach(struct tracer *t, int build, pid_t pid, char *err, size_t err_len);
/* Follow mode: trace pid, and every process it forks, from now on; watch_exec: report its execs. */
int tracer__track(struct tracer *t, pid_t pid);
/* A process the BPF side stopped at exec (gc_proc_event.stopped), once its probes are armed. */
void tracer__continue(struct tracer *t, pid_t pid);
/*
 * Follow mode, before gcbpf stops reading events: no more stops at exec,
 * and every process of the tree that is still stopped by gcbpf continued.
 * The watchdog does the same if gcbpf dies without calling this.
 */
void tracer__stop_following(struct tracer *t);
/* Waits up to timeout_ms for events and hands them to on_event. */
int tracer__poll(struct tracer *t, int timeout_ms);
/* Hands over every event still in the ring buffer. */
void tracer__drain(struct tracer *t);
/* The kernel's per-CPU counters, summed: enum gc_counter. */
void tracer__counters(struct tracer *t, __u64 out[GC_CNT_MAX]);
/*
 * Calls cb for every (pid, generation) histogram the kernel holds (with
 * opts.aggregate). Returns the number visited or -errno.
 */
typedef void (*tracer_hist_fn)(void *ctx, const struct gc_hist_key *key, const struct gc_hist *h);
int tracer__for_each_hist(struct tracer *t, tracer_hist_fn cb, void *ctx);
/* Forgets a process's histograms (after it exited and was reported). */
void tracer__forget_pid(struct tracer *t, __u32 pid);
const struct py_build *tracer__build(const struct tracer *t, __u32 idx);
void tracer__close(struct tracer *t);

#endif
