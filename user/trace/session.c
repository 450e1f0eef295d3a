// SPDX-License-Identifier: GPL-2.0
/*
 * One run: the mode's entry point, then for the tracing modes
 * resolve -> outputs -> load -> attach -> poll -> final report. Signals
 * here too. The targets (session_targets.c), the poll loop
 * (session_loop.c) and the modes that trace nothing (session_list.c) have
 * files of their own; the state they share: session_state.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/capability.h>
#include "trace/clock.h"
#include "util/log.h"
#include "target/cgroup.h"
#include "target/exec.h"
#include "trace/session_state.h"

volatile sig_atomic_t exiting;	/* the signal that ends the run */
static volatile sig_atomic_t signals;	/* SIGINT/SIGTERMs received */
static volatile pid_t forward_to;	/* launch mode: the command, while it runs */

/*
 * SIGINT/SIGTERM, as perf and strace take them. Launch mode: the first is
 * passed to the command, unless a terminal sent it to the whole foreground
 * process group, the command's too (not twice); tracing goes on until the
 * command ends, so the report is complete. The second ends the run at once.
 * Other modes: the first ends the run.
 */
static void on_signal(int sig, siginfo_t *si, void *uc)
{
	pid_t cmd = forward_to;

	if (cmd > 0 && !signals++) {
		/* si_code <= 0: kill(2) or sigqueue(3) from a process, to gcbpf alone. */
		if (si->si_code <= 0 || getpgid(cmd) != getpgrp())
			kill(cmd, sig);
		return;
	}
	exiting = sig;
}

void session__catch_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_exec(void *ctx, const struct gc_proc_event *e)
{
	struct session *s = ctx;

	struct gc_counts before;

	if (!follower__on_exec(&s->follow, e, &before))
		return;
	totals__exec(&s->totals, e->pid);
	if (before.state != GC_COUNTS_NONE)
		totals__before(&s->totals, e->pid, &before);
}

static void on_before(void *ctx, pid_t pid, const struct gc_counts *before)
{
	struct session *s = ctx;

	totals__before(&s->totals, pid, before);
}

static void on_event(void *ctx, const struct gc_event *e)
{
	struct session *s = ctx;
	struct sink_event ev = { .e = e, .build = tracer__build(&s->tracer, e->binary) };

	ev.proc = totals__event(&s->totals, e);
	if (ev.proc && !ev.proc->id.matched)
		return;		/* --match: not this command line */
	if (s->opt->stack_depth)
		ev.stack = pystack__resolve(&s->stacks, e, s->tracer.ev_stack);
	if (s->opt->inside_hz)
		ev.inside = inside__take(&s->inside, e);
	if (s->opt->sinks.advice || s->opt->sinks.top)
		totals__growth(&s->totals, e, ev.stack);
	outputs__event(&s->out, &ev);
}

static void on_batch(void *ctx)
{
	struct session *s = ctx;

	if (outputs__flush(&s->out))
		s->write_err = -EIO;
}

/* -p: the probes of each target's build, for that process. */
static int attach_pids(struct session *s)
{
	struct gc_counts before[MAX_TARGETS];
	char err[PATH_MAX + 256];
	int i, idx, ret;

	for (i = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		idx = tracer__add_build(&s->tracer, &s->builds[i]);
		if (idx < 0) {
			p_err("cannot register %s: %s", s->builds[i].display_path, strerror(-idx));
			return idx;
		}
		t->build = idx;
		ret = tracer__attach(&s->tracer, idx, t->pid, err, sizeof(err));
		if (ret) {
			p_err("%s", err);
			return ret;
		}
		/* What it ran before, read once the probes are in place (totals.h). */
		gc_state__read_counts(&before[i], t->pid, &s->builds[i], false);
		ret = tracer__track(&s->tracer, t->pid);	/* its execs reported */
		if (ret) {
			p_err("cannot follow pid %d's execs: %s", t->pid, strerror(-ret));
			return ret;
		}
		/* Its liveness from now on: no /proc read per poll. */
		s->pidfds[i] = pidfd_open(t->pid, 0);
		if (!target__alive(t)) {
			p_err("pid %d (%s) exited while gcbpf was attaching", t->pid, t->comm);
			return -ESRCH;
		}
	}
	/* Named from the start, also if they exit before their first collection. */
	pthread_mutex_lock(&s->totals.lock);
	for (i = 0; i < s->nr_targets; i++)
		totals__proc(&s->totals, s->targets[i].pid, s->targets[i].comm);
	pthread_mutex_unlock(&s->totals.lock);
	for (i = 0; i < s->nr_targets; i++)
		totals__before(&s->totals, s->targets[i].pid, &before[i]);
	return 0;
}

/* Launch mode: the command's tree, its binaries armed as they are exec'd. */
static int attach_launch(struct session *s)
{
	return tracer__track(&s->tracer, s->child.pid);
}

/* System-wide: every interpreter binary running now; later ones as they come. */
static bool has_cap(int cap)
{
	unsigned long long eff = 0;
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return true;	/* cannot tell: the failures will say */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff >> cap & 1;
}

static int attach_system(struct session *s)
{
	if (!has_cap(CAP_SYS_PTRACE))
		p_warn("without CAP_SYS_PTRACE, other users' processes cannot be inspected: they "
		       "are not traced (run as root)");
	/* Installed interpreters first: their processes are traced from their exec on. */
	follower__prearm(&s->follow);
	follower__scan(&s->follow);
	return s->follow.err == -EPERM || s->follow.err == -EACCES ? s->follow.err : 0;
}

static void banner(struct session *s)
{
	const struct options *opt = s->opt;
	const struct py_build *b = &s->builds[0];

	switch (opt->mode) {
	case MODE_LAUNCH:
		p_info("Tracing CPython GC in %s (pid %d) and every process it starts... "
		       "Hit Ctrl-C to end.", opt->cmd[0], s->child.pid);
		break;
	case MODE_SYSTEM:
		p_info("Tracing CPython GC in every process (%d binar%s armed, more as they "
		       "start)... Hit Ctrl-C to end.", s->follow.nr_armed,
		       s->follow.nr_armed == 1 ? "y" : "ies");
		break;
	default:
		if (s->nr_targets == 1)
			p_info("Tracing CPython GC in PID %d (%s, Python %s, %s)... Hit Ctrl-C to "
			       "end.", s->targets[0].pid, b->display_path, b->version,
			       py_build__probe_name(b->probe));
		else
			p_info("Tracing CPython GC in %d processes... Hit Ctrl-C to end.",
			       s->nr_targets);
	}
}
/*
 * Probes, links, maps and exporter clients are all fds: the soft limit up to
 * the hard one, so that only the hard limit bounds gcbpf (the exporter keeps
 * its clients to a fraction of it). After the command's fork: it keeps its own.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		p_debug("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
}

/* The tracing modes: attach is what differs. Returns the exit status. */
static int trace(struct session *s, int (*attach)(struct session *s))
{
	const struct options *opt = s->opt;
	struct output_opts oo = { .format = opt->format, .path = opt->output_path,
				  .launch = opt->mode == MODE_LAUNCH, .cfg = opt->sinks };
	struct tracer_opts topts = {
		.programs = opt->programs, .min_ns = opt->min_ns,
		/* Every pause counted in the kernel: the source of every total. */
		.aggregate = opt->programs == PROGRAMS_GCBPF,
		.follow = opt->mode == MODE_LAUNCH, .stop_on_exec = opt->mode == MODE_LAUNCH,
		.report_exec = opt->mode == MODE_SYSTEM, .comm = opt->comm,
		/* A -p target that execs another Python: its new binary armed too. */
		.watch_exec = opt->mode == MODE_PIDS,
		.filter_gen = opt->gen >= 0, .gen = opt->gen,
		.pidns = !s->pidns.init, .pidns_dev = s->pidns.dev, .pidns_ino = s->pidns.ino,
		.on_event = on_event, .on_batch = on_batch, .on_exec = on_exec, .ctx = s,
	};
	char why[PATH_MAX + 256];
	bool opened = false;
	int i, err;

	if (opt->stack_depth || opt->inside_hz) {
		pystack__init(&s->stacks, opt->stack_depth ? opt->stack_depth : PYSTACK_DEFAULT_DEPTH);
		topts.stacks = &s->stacks;
		topts.stack_depth = opt->stack_depth;
	}
	if (opt->inside_hz) {
		inside__init(&s->inside, &s->stacks, opt->inside_hz);
		topts.inside_hz = opt->inside_hz;
		topts.inside = &s->inside;
		s->totals.inside = &s->inside.agg;
	}
	raise_nofile();
	if (opt->mode == MODE_PIDS && (err = session__resolve_targets(s)))
		goto out;
	if ((err = outputs__open(&s->out, &oo, &s->totals)))
		goto out;
	opened = true;
	/* -q, with or without --stats, --hist, --prometheus: the kernel's totals only. */
	topts.events = outputs__want_events(&s->out);
	if (opt->cgroup) {
		topts.cgroup_fd = target__open_cgroup(opt->cgroup, why, sizeof(why));
		if (topts.cgroup_fd < 0) {
			p_err("%s", why);
			err = topts.cgroup_fd;
			goto out;
		}
	}
	if ((err = tracer__open(&s->tracer, &topts, why, sizeof(why)))) {
		p_err("%s", why);
		goto out;
	}
	follower__init(&s->follow, &s->tracer,
		       &(struct py_build_opts){ .force_uprobe = opt->force_uprobe });
	s->follow.per_pid = opt->mode == MODE_PIDS;
	s->follow.on_before = on_before;
	s->follow.ctx = s;
	if ((err = attach(s)))
		goto out;
	banner(s);
	s->start_ns = mono_ns();
	if (exiting)
		goto out;	/* a signal while loading: the command never runs */
	launch__release(&s->child);
	forward_to = s->child.pid;
	err = session__poll_loop(s);
	forward_to = 0;
	session__refresh(s, false);
	pthread_mutex_lock(&s->totals.lock);
	err = outputs__close(&s->out, &s->totals, mono_ns() - s->start_ns) ?: err;
	pthread_mutex_unlock(&s->totals.lock);
	opened = false;
	if (opt->mode == MODE_LAUNCH && !s->follow.nr_armed && !s->follow.nr_failed)
		p_warn("%s ran no Python interpreter gcbpf could trace (-v says why)", opt->cmd[0]);
	if (s->follow.nr_failed && !err) {
		p_err("%d interpreter binar%s could not be traced (said above)", s->follow.nr_failed,
		      s->follow.nr_failed == 1 ? "y" : "ies");
		err = s->follow.err;
	}
	{
		const __u64 *c = s->totals.counters;

		p_debug("counters: lost=%llu read_errors=%llu no_entry=%llu hist_full=%llu "
			"proc_lost=%llu foreign=%llu foreign_execs=%llu",
			(unsigned long long)c[GC_CNT_LOST], (unsigned long long)c[GC_CNT_READ_ERRORS],
			(unsigned long long)c[GC_CNT_NO_ENTRY], (unsigned long long)c[GC_CNT_HIST_FULL],
			(unsigned long long)c[GC_CNT_PROC_LOST], (unsigned long long)c[GC_CNT_FOREIGN],
			(unsigned long long)c[GC_CNT_FOREIGN_EXEC]);
	}
	if (s->totals.counters[GC_CNT_LOST])
		p_warn("%llu events lost in total (ring buffer full)",
		       (unsigned long long)s->totals.counters[GC_CNT_LOST]);
	if (s->totals.counters[GC_CNT_STALE])
		p_warn("%llu collections with unknown counts: the interpreter's statistics had "
		       "moved by more than one collection since the last one seen",
		       (unsigned long long)s->totals.counters[GC_CNT_STALE]);
	if (s->totals.counters[GC_CNT_UNATTRIBUTED])
		p_warn("%llu collections of another interpreter than the main one (subinterpreters) "
		       "were not reported: the USDT probes do not say which; --uprobe does",
		       (unsigned long long)s->totals.counters[GC_CNT_UNATTRIBUTED]);
out:
	if (opened)
		outputs__close(&s->out, NULL, 0);	/* a trace's JSON is closed on every path */
	if (opt->mode == MODE_LAUNCH && (err || s->child.gate >= 0)) {
		launch__abort(&s->child);
	} else if (opt->mode == MODE_LAUNCH && exiting) {
		/* A second signal: at once, everything stopped continued already. */
		if (!launch__reap(&s->child, false))
			p_warn("%s (pid %d) is still running: not waited for, no longer traced",
			       opt->cmd[0], s->child.pid);
	} else if (opt->mode == MODE_LAUNCH) {
		/* Ended by -d: its status once it ends. */
		launch__reap(&s->child, true);
	}
	tracer__close(&s->tracer);
	follower__free(&s->follow);
	for (i = 0; i < MAX_TARGETS; i++)
		if (s->pidfds[i] >= 0)
			close(s->pidfds[i]);
	if (opt->inside_hz) {
		inside__report(&s->inside, s->totals.counters);
		s->totals.inside = NULL;
		inside__free(&s->inside);
	}
	if (opt->stack_depth || opt->inside_hz) {
		pystack__report(&s->stacks);
		pystack__free(&s->stacks);
	}
	if (err)
		return 1;
	if (opt->mode == MODE_LAUNCH && exiting)
		return 128 + exiting;
	return opt->mode == MODE_LAUNCH ? s->child.exit_code : 0;
}

static int run_pids(struct session *s)
{
	return trace(s, attach_pids);
}

static int run_launch(struct session *s)
{
	char path[PATH_MAX], why[PATH_MAX + 64];

	/* Say a missing command here, in one line, not from the child. */
	if (target__find_executable(s->opt->cmd[0], path, sizeof(path), why, sizeof(why))) {
		p_err("%s", why);
		return 1;
	}
	if (launch__start(&s->child, s->opt->cmd))
		return 1;
	return trace(s, attach_launch);
}

static int run_system(struct session *s)
{
	return trace(s, attach_system);
}

/* One entry point per mode. */
static int (*const entry[])(struct session *s) = {
	[MODE_PIDS] = run_pids,
	[MODE_LAUNCH] = run_launch,
	[MODE_SYSTEM] = run_system,
	[MODE_LIST] = session__list,
	[MODE_ONELINER] = session__oneliner,
};

int session__run(const struct options *opt)
{
	static struct session s;
	int i, status;

	memset(&s, 0, sizeof(s));
	s.opt = opt;
	/* --list and --bpftrace read only /proc: no BPF pids to agree with. */
	if (opt->mode == MODE_PIDS || opt->mode == MODE_LAUNCH || opt->mode == MODE_SYSTEM) {
		char err[512];

		if (target__pid_ns(&s.pidns, err, sizeof(err))) {
			p_err("%s", err);
			return 1;
		}
	}
	s.child.gate = -1;
	for (i = 0; i < MAX_TARGETS; i++)
		s.pidfds[i] = -1;
	totals__init(&s.totals, opt->hide_args, opt->match);
	status = entry[opt->mode](&s);
	totals__free(&s.totals);
	return status;
}
