// SPDX-License-Identifier: GPL-2.0
/*
 * One run: the mode's entry point, then for the tracing modes
 * resolve -> outputs -> load -> attach -> poll -> final report.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/capability.h>
#include "trace/clock.h"
#include "target/follow.h"
#include "target/identity.h"
#include "target/launch.h"
#include "util/log.h"
#include "out/out_bpftrace.h"
#include "out/output.h"
#include "python/py_build.h"
#include "python/pystack.h"
#include "trace/inside.h"
#include "trace/session.h"
#include "target/target.h"
#include "util/text.h"
#include "trace/totals.h"
#include "util/vec.h"

#define SEC_NS 1000000000ULL
#define RESCAN_S 5		/* system-wide: look for newly mapped libpythons this often */
#define REFRESH_S 10		/* totals from the kernel, and exited processes retired */
#define RETIRE_GRACE_NS (60 * 1000000000ULL)	/* exported 60 s (a scrape interval) after exit */
#define SERVICE_IDLE_NS (300 * 1000000000ULL)	/* a service without processes: exported 5 min */

static volatile sig_atomic_t exiting;	/* the signal that ends the run */
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

/*
 * A -p target that cannot be traced: with several, the others are traced
 * and this one is warned about (--strict: an error). Returns 0 to go on.
 */
static int skip_pid(struct session *s, int ret, const char *why)
{
	if (s->opt->mode != MODE_PIDS || s->opt->nr_pids == 1 || s->opt->strict) {
		p_err("%s", why);
		return ret;
	}
	p_warn("%s; tracing the other processes (--strict makes this an error)", why);
	return 0;
}

/* The targets of -p, or the interpreter a command will run; said on failure. */
static int resolve_targets(struct session *s)
{
	const struct options *opt = s->opt;
	struct py_build_opts bopts = { .force_uprobe = opt->force_uprobe };
	char err[512], why[700];
	int i, n, ret;

	if (opt->cmd) {
		struct target *t = &s->targets[s->nr_targets++];

		memset(t, 0, sizeof(*t));
		t->pid = s->child.pid;
		snprintf(t->comm, sizeof(t->comm), "%s", opt->cmd[0]);
		ret = target__resolve_command(opt->cmd[0], t->elf_path, sizeof(t->elf_path), err,
					      sizeof(err));
		if (ret) {
			p_err("%s", err);
			return ret;
		}
		memcpy(t->elf_display, t->elf_path, sizeof(t->elf_display));
	} else {
		for (i = 0; i < opt->nr_pids; i++) {
			ret = target__from_pid(&s->targets[s->nr_targets], opt->pids[i], err,
					       sizeof(err));
			if (!ret)
				s->nr_targets++;
			else if ((ret = skip_pid(s, ret, err)))
				return ret;
		}
	}
	for (i = n = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		ret = py_build__inspect(&s->builds[n], t->elf_path, t->elf_display, &bopts, err,
					sizeof(err));
		if (!ret) {
			s->targets[n++] = *t;
			continue;
		}
		if (ret == -ENOEXEC && !opt->cmd)
			snprintf(why, sizeof(why), "pid %d (%s) is not Python: %s", t->pid, t->comm,
				 err);
		else if (ret == -ENOEXEC)
			snprintf(why, sizeof(why), "%s does not run Python directly: %s (give the "
				 "interpreter's path, not a wrapper)", opt->cmd[0], err);
		else
			snprintf(why, sizeof(why), "%s", err);
		if ((ret = skip_pid(s, ret, why)))
			return ret;
	}
	s->nr_targets = n;
	if (!n) {
		p_err("none of the processes given with -p can be traced (said why above)");
		return -ESRCH;
	}
	return 0;
}

/* A binary already inspected by --list without a target. */
struct listed_binary {
	dev_t dev;
	ino_t ino;
	int build;		/* index in builds, -1: not a Python gcbpf can trace */
};

/*
 * --list with no target: every Python process on the host, with who it is,
 * its binary, version and probe path. Each binary is inspected once.
 */
static int list_host(struct session *s)
{
	struct py_build_opts bopts = { .force_uprobe = s->opt->force_uprobe };
	VEC(struct listed_binary) seen = {};
	VEC(struct py_build) builds = {};
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int nr = 0, i;

	if (!proc) {
		p_err("cannot list /proc: %s", strerror(errno));
		return 1;
	}
	while ((de = readdir(proc))) {
		struct listed_binary *lb = NULL;
		struct identity id;
		struct target t;
		struct stat st;
		char err[512], who[4 * IDENTITY_NAME_LEN + 1];

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    target__from_pid(&t, atoi(de->d_name), err, sizeof(err)) ||
		    stat(t.elf_path, &st))
			continue;
		for (i = 0; i < seen.nr && !lb; i++)
			if (seen.items[i].dev == st.st_dev && seen.items[i].ino == st.st_ino)
				lb = &seen.items[i];
		if (!lb && (lb = vec_push(&seen))) {
			struct py_build *b = vec_push(&builds);

			*lb = (struct listed_binary){ st.st_dev, st.st_ino, -1 };
			if (b && !py_build__inspect(b, t.elf_path, t.elf_display, &bopts, err,
						    sizeof(err)))
				lb->build = builds.nr - 1;
			else if (b)
				builds.nr--;
		}
		if (!lb || lb->build < 0)
			continue;
		identity__read(&id, t.pid, t.comm, s->opt->hide_args, s->opt->match);
		if (!id.matched)
			continue;
		if (!nr++)
			printf("%-7s %-15s %-24s %-8s %-6s %s\n", "PID", "COMM", "SERVICE", "PYTHON",
			       "PROBE", "BINARY");
		text__escape(who, sizeof(who), id.short_cmd, sizeof(id.short_cmd));
		printf("%-7d %-15s %-24.24s %-8s %-6s %s  [%s]\n", t.pid, t.comm, id.service,
		       builds.items[lb->build].version,
		       py_build__probe_name(builds.items[lb->build].probe),
		       builds.items[lb->build].display_path, who);
	}
	closedir(proc);
	if (!nr)
		printf("(no Python processes)\n");
	vec_free(&seen);
	vec_free(&builds);
	return fflush(stdout) ? 1 : 0;
}

/* --list: each target's binary, version and probe path, and why. */
static int run_list(struct session *s)
{
	int i, err;

	if (!s->opt->cmd && !s->opt->nr_pids)
		return list_host(s);
	err = resolve_targets(s);

	for (i = 0; !err && i < s->nr_targets; i++) {
		const struct py_build *b = &s->builds[i];

		if (s->opt->cmd)
			printf("%s: ", s->opt->cmd[0]);
		else
			printf("pid %d (%s): ", s->targets[i].pid, s->targets[i].comm);
		printf("%s, Python %s%s (version from %s), probe %s: %s\n", b->display_path,
		       b->version, b->debug ? " debug" : "", b->version_source,
		       py_build__probe_name(b->probe), b->why);
	}
	return err || fflush(stdout) ? 1 : 0;
}

/* --bpftrace: a one-liner per target, with the path the host sees. */
static int run_oneliner(struct session *s)
{
	int i, err = resolve_targets(s);

	for (i = 0; !err && i < s->nr_targets; i++) {
		const struct py_build *b = &s->builds[i];
		const char *path = b->display_path;
		struct stat st;

		/* The target's own path, unless it lives in another root. */
		if (stat(path, &st) || st.st_dev != b->dev || st.st_ino != b->ino)
			path = b->path;
		oneliner__print(stdout, b, path, s->opt->cmd ? 0 : s->targets[i].pid, s->opt->cmd);
	}
	return err || fflush(stdout) ? 1 : 0;
}

static void on_exec(void *ctx, const struct gc_proc_event *e)
{
	struct session *s = ctx;

	if (follower__on_exec(&s->follow, e))
		totals__exec(&s->totals, e->pid);
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

/* A -p target: its pidfd is readable once it exited (a kernel without pidfds: /proc). */
static bool target_running(struct session *s, int i)
{
	struct pollfd p = { .fd = s->pidfds[i], .events = POLLIN };

	if (p.fd < 0)
		return target__alive(&s->targets[i]);
	return poll(&p, 1, 0) <= 0;	/* an error (EINTR): asked again at the next poll */
}

/* True once nothing is left to trace. */
static bool targets_done(struct session *s)
{
	int i, alive = 0;

	if (s->opt->mode == MODE_SYSTEM)
		return false;
	if (s->opt->mode == MODE_LAUNCH)
		return launch__reap(&s->child, false);
	for (i = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		if (!t->exited && !target_running(s, i)) {
			t->exited = true;
			p_debug("pid %d (%s) exited", t->pid, t->comm);
		}
		alive += !t->exited;
	}
	return alive == 0;
}

static void warn_losses(struct session *s, __u64 *seen_lost)
{
	__u64 c[GC_CNT_MAX];

	tracer__counters(&s->tracer, c);
	if (c[GC_CNT_LOST] > *seen_lost) {
		p_warn("%llu events lost: the ring buffer was full (the pause table still counts "
		       "them; lower the event rate with a filter)",
		       (unsigned long long)(c[GC_CNT_LOST] - *seen_lost));
		*seen_lost = c[GC_CNT_LOST];
	}
}

/*
 * The kernel's histograms and counters into the totals; with retire,
 * processes gone for the grace period are retired and their kernel entries
 * deleted, so memory stays bounded while processes come and go.
 */
static void refresh(struct session *s, bool retire)
{
	__u64 grace = RETIRE_GRACE_NS > 2 * s->opt->interval_ns ? RETIRE_GRACE_NS
								 : 2 * s->opt->interval_ns;
	pid_t gone[64];
	int i, n = 0;

	pthread_mutex_lock(&s->totals.lock);
	tracer__for_each_hist(&s->tracer, totals__set_hist, &s->totals);
	tracer__counters(&s->tracer, s->totals.counters);
	if (retire) {
		n = totals__retire(&s->totals, mono_ns(), grace, gone, 64);
		totals__expire_services(&s->totals, mono_ns(), SERVICE_IDLE_NS);
	}
	for (i = 0; i < n; i++)
		tracer__forget_pid(&s->tracer, gone[i]);
	pthread_mutex_unlock(&s->totals.lock);
}

/*
 * The advice's thresholds, from each live process's memory: located once,
 * re-read every GC_CONFIG_REFRESH_NS (gc.set_threshold), never per event;
 * the reads happen outside the lock the exporter shares.
 */
static void read_gc_configs(struct session *s)
{
	struct due { pid_t pid; struct gc_config c; } *due;
	__u64 now = mono_ns();
	int i, n = 0;

	if (!s->opt->sinks.advice && !s->opt->sinks.top)
		return;
	pthread_mutex_lock(&s->totals.lock);
	due = calloc(s->totals.procs.nr + 1, sizeof(*due));
	for (i = 0; due && i < s->totals.procs.nr; i++) {
		const struct proc_totals *p = &s->totals.procs.items[i];

		if (!p->retired && !p->exited_ns && gc_config__due(&p->gc, now))
			due[n++] = (struct due){ p->pid, p->gc };
	}
	pthread_mutex_unlock(&s->totals.lock);
	for (i = 0; i < n; i++)
		gc_config__refresh(&due[i].c, due[i].pid, &s->tracer, now);
	pthread_mutex_lock(&s->totals.lock);
	for (i = 0; i < n; i++) {
		struct proc_totals *p = totals__proc(&s->totals, due[i].pid, NULL);

		if (p)
			p->gc = due[i].c;
	}
	pthread_mutex_unlock(&s->totals.lock);
	free(due);
}

static int poll_loop(struct session *s)
{
	const struct options *opt = s->opt;
	__u64 start = mono_ns(), seen_lost = 0, last_report = start;
	/* By the clock, not per poll: a poll returns early on each wakeup. */
	__u64 next_second = start + SEC_NS, next_refresh = start + REFRESH_S * SEC_NS;
	__u64 next_rescan = start + RESCAN_S * SEC_NS, now;
	int err = 0;

	while (!exiting && !s->write_err) {
		if (outputs__idle(&s->out))
			break;	/* top's q */
		err = tracer__poll(&s->tracer, 100);
		if (err < 0) {
			p_err("reading events failed: %s", strerror(-err));
			break;
		}
		err = 0;
		/* A permission error arming a binary: every other would fail too. */
		if (s->follow.err == -EPERM || s->follow.err == -EACCES) {
			err = s->follow.err;
			break;
		}
		if (targets_done(s))
			break;
		now = mono_ns();
		if (opt->duration_ns && now - start >= opt->duration_ns)
			break;
		if (now >= next_refresh) {
			refresh(s, true);
			next_refresh = now + REFRESH_S * SEC_NS;
		} else if (opt->sinks.prometheus && now >= next_second) {
			refresh(s, false);
		}
		if (now >= next_second) {
			warn_losses(s, &seen_lost);
			read_gc_configs(s);
			next_second = now + SEC_NS;
		}
		/* Interpreters embedded in programs that are not Python (libpython
		 * dlopen'ed after exec) show up only in /proc/PID/maps. */
		if (opt->mode == MODE_SYSTEM && now >= next_rescan) {
			follower__scan(&s->follow);
			next_rescan = now + RESCAN_S * SEC_NS;
		}
		if (opt->interval_ns && mono_ns() - last_report >= opt->interval_ns) {
			__u64 t = mono_ns();

			refresh(s, false);
			pthread_mutex_lock(&s->totals.lock);
			outputs__report(&s->out, &s->totals, t - last_report, t - s->start_ns);
			pthread_mutex_unlock(&s->totals.lock);
			last_report = t;
		}
	}
	/* On every path: nothing stays stopped. */
	tracer__stop_following(&s->tracer);
	tracer__drain(&s->tracer);
	warn_losses(s, &seen_lost);
	return err ?: s->write_err;
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
	if (opt->mode == MODE_PIDS && (err = resolve_targets(s)))
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
	if ((err = attach(s)))
		goto out;
	banner(s);
	s->start_ns = mono_ns();
	if (exiting)
		goto out;	/* a signal while loading: the command never runs */
	launch__release(&s->child);
	forward_to = s->child.pid;
	err = poll_loop(s);
	forward_to = 0;
	refresh(s, false);
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
	[MODE_LIST] = run_list,
	[MODE_ONELINER] = run_oneliner,
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
