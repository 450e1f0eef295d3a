// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gcbpf.skel.h"
#include "trace/hdr.h"
#include "util/log.h"
#include "python/pystack.h"
#include "trace/tracer.h"
#include "trace/inside.h"
#include "trace/sampler.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	int n;

	if (level == LIBBPF_DEBUG && !log_verbose)
		return 0;
	if (level == LIBBPF_WARN && !log_verbose)
		return 0;	/* failures are reported by gcbpf itself, in one line */
	n = vfprintf(stderr, fmt, args);
	fflush(stderr);	/* stderr may be buffered for events (launch mode) */
	return n;
}

static int handle_proc_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size >= sizeof(struct gc_proc_event) && t->opts.on_exec)
		t->opts.on_exec(t->opts.ctx, data);
	return 0;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct gc_event *e = data;
	const struct gc_stack *st = (const void *)(e + 1);

	/* Code records come before the events that refer to them. */
	if (size >= sizeof(__u32) && e->record == GC_REC_CODE) {
		if (t->opts.stacks)
			pystack__add_record(t->opts.stacks, data, size);
		return 0;
	}
	/* Samples come before the event of their collection. */
	if (size >= sizeof(__u32) && (e->record == GC_REC_SAMPLE || e->record == GC_REC_INSIDE_END)) {
		if (t->opts.inside)
			inside__record(t->opts.inside, data, size);
		return 0;
	}
	if (size < sizeof(*e) || e->record != GC_REC_EVENT)
		return 0;
	t->ev_stack = NULL;
	if ((e->flags & GC_EV_STACK) && size >= sizeof(*e) + sizeof(*st) &&
	    st->nr <= (size - sizeof(*e) - sizeof(*st)) / sizeof(st->frames[0]))
		t->ev_stack = st;
	t->opts.on_event(t->opts.ctx, e);
	t->ev_stack = NULL;
	return 0;
}

/*
 * What works, measured on Linux 6.18 (perf_event_paranoid 2): CAP_BPF and
 * CAP_PERFMON load the programs and attach the tracepoints, but every
 * uprobe is refused (EACCES) without CAP_SYS_ADMIN; reading another user's
 * /proc/PID/{exe,maps,root} takes CAP_SYS_PTRACE.
 */
#define PRIV_ADVICE "run as root (uprobes need CAP_SYS_ADMIN: CAP_BPF and CAP_PERFMON are " \
	"not enough; other users' processes need CAP_SYS_PTRACE too)"

/*
 * Whether uprobes can be attached at all, before anything runs untraced:
 * one on this process's own getpid(), for this process only, at once removed.
 * Only a refusal is an error here; anything else, the real attach says.
 */
static int check_uprobes(struct tracer *t, char *ebuf, size_t elen)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = "getpid");
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(t->skel->progs.probe_empty, getpid(), "libc.so.6", 0,
					       &o);
	if (link) {
		bpf_link__destroy(link);
		return 0;
	}
	err = -errno;
	if (err != -EPERM && err != -EACCES) {
		p_debug("uprobe self-check: %s", strerror(-err));
		return 0;
	}
	return err_fill(ebuf, elen, err, "cannot attach uprobes: %s; %s", strerror(-err),
			PRIV_ADVICE);
}

/* Kernel support gcbpf needs, checked up front so the error says what is missing. */
static int check_system(char *ebuf, size_t elen)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return err_fill(ebuf, elen, -ENOTSUP, "cannot load BPF programs: this kernel has "
				"no BTF (/sys/kernel/btf/vmlinux missing); use a kernel built with "
				"CONFIG_DEBUG_INFO_BTF=y");
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK))
		return err_fill(ebuf, elen, -ENOTSUP, "cannot attach probes: this kernel has no "
				"uprobe PMU (/sys/bus/event_source/devices/uprobe missing); needs "
				"CONFIG_UPROBE_EVENTS=y");
	return 0;
}

static int add_link(struct tracer *t, struct bpf_link *link)
{
	struct bpf_link **slot = vec_push(&t->links);

	if (!slot) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	*slot = link;
	return 0;
}

static int add_link_cb(void *ctx, struct bpf_link *link)
{
	return add_link(ctx, link);
}

/* fork/exit/exec tracepoints, for a command's tree or the whole host. */
static int attach_process_tracking(struct tracer *t, char *ebuf, size_t elen)
{
	struct bpf_program *progs[] = { t->skel->progs.follow_fork, t->skel->progs.follow_exit,
					t->skel->progs.notify_exec };
	size_t i;
	int err;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link;

		if (progs[i] == t->skel->progs.follow_fork && !t->opts.follow)
			continue;	/* -p: the targets, not their children */
		link = bpf_program__attach(progs[i]);

		if (!link) {
			err = -errno;
			return err_fill(ebuf, elen, err, "cannot attach %s: %s",
					bpf_program__name(progs[i]), strerror(-err));
		}
		err = add_link(t, link);
		if (err)
			return err;
	}
	err = ring_buffer__add(t->rb, bpf_map__fd(t->skel->maps.proc_events), handle_proc_event, t);
	if (err)
		err_fill(ebuf, elen, err, "cannot read process events: %s", strerror(-err));
	return err;
}

/*
 * How long a BPF program that read stops_live just before it was cleared
 * may still be running (it sends the SIGSTOP, then marks `tracked`).
 */
#define STOP_GRACE_NS 20000000L

/*
 * No more stops at exec, then a SIGCONT for every process stopped at an
 * exec (marked TRACKED_STOPPED), whatever its state now: one whose SIGSTOP
 * is still pending must get it too (a SIGCONT cancels a pending stop), and
 * one that was continued already does not mind. drain: read the events
 * still queued first (the loader; NULL for the watchdog). Syscalls only, so
 * that the watchdog can run it. Returns how many were sent a SIGCONT.
 */
static int disarm_and_sweep(volatile __u32 *stops_live, int tracked_fd, struct tracer *drain)
{
	struct timespec grace = { 0, STOP_GRACE_NS };
	__u32 key, next, *prev = NULL;
	__u8 mark;
	int n = 0;

	*stops_live = 0;
	__sync_synchronize();
	nanosleep(&grace, NULL);
	if (drain)
		ring_buffer__consume(drain->rb);	/* arms and continues those reported */
	while (!bpf_map_get_next_key(tracked_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(tracked_fd, &key, &mark) && mark == TRACKED_STOPPED &&
		    !kill(key, SIGCONT))
			n++;
	}
	return n;
}

void tracer__stop_following(struct tracer *t)
{
	if (!t->opts.stop_on_exec || !t->skel)
		return;
	disarm_and_sweep(&t->skel->data->stops_live, bpf_map__fd(t->skel->maps.tracked), t);
}

void tracer__continue(struct tracer *t, pid_t pid)
{
	if (kill(pid, SIGCONT) && errno != ESRCH)
		p_warn("cannot continue pid %d: %s", pid, strerror(errno));
}

/* Closes every fd from 3 on but a and b. */
static void close_fds_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

/*
 * The watchdog: waits for gcbpf to end (EOF on the pipe; a byte first when
 * it ended normally and swept already), then disarms and sweeps, so even a
 * SIGKILLed gcbpf leaves nothing stopped. It holds no program, link or
 * ring buffer fd (they would keep probes alive): only the pipe and
 * `tracked`; stops_live is the .data mapping, shared across fork.
 */
static void __attribute__((noreturn)) watchdog_main(int rd, int tracked_fd,
						    volatile __u32 *stops_live)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN,
				       SIGTTOU, SIGPIPE, SIGUSR1, SIGUSR2 };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	ssize_t r;
	size_t i;
	char c;
	int n;

	/* Its own process group: a terminal's Ctrl-C is for gcbpf and the command. */
	setpgid(0, 0);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "gcbpf-watchdog");
	if (devnull >= 0) {
		/* Nobody waits for EOF on gcbpf's stdout because of us; stderr stays. */
		dup2(devnull, 0);
		dup2(devnull, 1);
	}
	close_fds_except(rd, tracked_fd);
	do
		r = read(rd, &c, 1);
	while (r < 0 && errno == EINTR);
	n = disarm_and_sweep(stops_live, tracked_fd, NULL);
	if (r != 1 && n)
		p_warn("gcbpf ended without continuing the processes it stopped at exec: its "
		       "watchdog continued %d", n);
	_exit(0);
}

/* Before anything can be stopped: the watchdog, a child that outlives gcbpf. */
static int start_watchdog(struct tracer *t, char *ebuf, size_t elen)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return err_fill(ebuf, elen, -errno, "cannot create the watchdog's pipe: %s",
				strerror(errno));
	fflush(NULL);	/* nothing buffered is written twice */
	t->watchdog = fork();
	if (t->watchdog < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		t->watchdog = 0;
		return err_fill(ebuf, elen, err, "cannot fork the watchdog that continues stopped "
				"processes: %s", strerror(-err));
	}
	if (t->watchdog == 0) {
		close(p[1]);
		watchdog_main(p[0], bpf_map__fd(t->skel->maps.tracked), &t->skel->data->stops_live);
	}
	close(p[0]);
	t->watchdog_fd = p[1];
	return 0;
}

static void stop_watchdog(struct tracer *t)
{
	if (t->watchdog <= 0)
		return;
	/* Swept already (tracer__stop_following), or nothing was ever stopped. */
	if (write(t->watchdog_fd, "e", 1) != 1)
		p_debug("cannot tell the watchdog: %s", strerror(errno));
	close(t->watchdog_fd);
	while (waitpid(t->watchdog, NULL, 0) < 0 && errno == EINTR)
		;
	t->watchdog = 0;
}

int tracer__track(struct tracer *t, pid_t pid)
{
	__u32 key = pid;
	__u8 one = TRACKED;

	return bpf_map__update_elem(t->skel->maps.tracked, &key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
}

/* Only the programs this run attaches are loaded (the benchmark's floors are not). */
static void load_only_needed(struct gcbpf_bpf *skel, const struct tracer_opts *opts)
{
	bool gcbpf = opts->programs == PROGRAMS_GCBPF;
	bool procs = opts->follow || opts->report_exec || opts->watch_exec;

	bpf_program__set_autoload(skel->progs.usdt_gc_start, gcbpf);
	bpf_program__set_autoload(skel->progs.usdt_gc_done, gcbpf);
	bpf_program__set_autoload(skel->progs.uprobe_gc_enter, gcbpf);
	bpf_program__set_autoload(skel->progs.uretprobe_gc_exit, gcbpf);
	bpf_program__set_autoload(skel->progs.usdt_ring_done, gcbpf);
	/* ... and for check_uprobes() */
	bpf_program__set_autoload(skel->progs.probe_empty, opts->programs == PROGRAMS_EMPTY ||
				  opts->programs == PROGRAMS_EMPTY_ONE || opts->follow ||
				  opts->report_exec);
	bpf_program__set_autoload(skel->progs.clock_enter, opts->programs == PROGRAMS_CLOCK);
	bpf_program__set_autoload(skel->progs.clock_exit, opts->programs == PROGRAMS_CLOCK);
	bpf_program__set_autoload(skel->progs.follow_fork, procs);
	bpf_program__set_autoload(skel->progs.follow_exit, procs);
	bpf_program__set_autoload(skel->progs.notify_exec, procs);
	bpf_program__set_autoload(skel->progs.pidns_find_level, opts->pidns);
	bpf_program__set_autoload(skel->progs.inside_sample, gcbpf && opts->inside_hz);
}

/*
 * The depth of our PID namespace, which the BPF side needs to read a task's
 * pid there: pidns_find_level run once in this very task (BPF_PROG_TEST_RUN
 * runs a raw_tp program in the caller's context).
 */
static int find_pidns_level(struct tracer *t, char *ebuf, size_t elen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int err = bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.pidns_find_level), &o);

	if (err)
		return err_fill(ebuf, elen, -errno, "cannot find the depth of gcbpf's PID namespace: "
				"%s", strerror(errno));
	if (!t->skel->bss->pidns_level_found)
		return err_fill(ebuf, elen, -ENOENT, "cannot find the depth of gcbpf's PID "
				"namespace: pid:[%llu] is not where the kernel puts this process",
				(unsigned long long)t->opts.pidns_ino);
	p_debug("in PID namespace pid:[%llu] (depth %u): pids are this namespace's",
		(unsigned long long)t->opts.pidns_ino, t->skel->bss->pidns_level);
	return 0;
}

/*
 * Events per CPU between forced wakeups: with every CPU one short of it, the
 * ring is half full (a record is the event, its stack as stack__bytes()
 * sizes it, and the ring's 8-byte header, 8-aligned). Fewer wakeups than
 * that gain nothing: a wakeup costs ~10 us, spread over thousands of events.
 */
static __u32 wakeup_every(const struct gcbpf_bpf *skel, int depth)
{
	size_t rec = sizeof(struct gc_event) +
		     (depth ? sizeof(struct gc_stack) + depth * sizeof(struct gc_frame) : 0);
	size_t ring = bpf_map__max_entries(skel->maps.events);
	int ncpu = libbpf_num_possible_cpus();
	size_t n;

	rec = (rec + 7) / 8 * 8 + 8;
	n = ring / 2 / rec / (ncpu > 0 ? ncpu : 1);
	return n < 1 ? 1 : n > 65536 ? 65536 : n;
}

int tracer__open(struct tracer *t, const struct tracer_opts *opts, char *ebuf, size_t elen)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->opts = *opts;
	libbpf_set_print(libbpf_print);
	err = check_system(ebuf, elen);
	if (err)
		return err;
	t->skel = gcbpf_bpf__open();
	if (!t->skel) {
		err = -errno;
		return err_fill(ebuf, elen, err, "cannot open the BPF object: %s", strerror(-err));
	}
	load_only_needed(t->skel, opts);
	t->skel->rodata->targ_min_ns = opts->min_ns;
	t->skel->rodata->targ_aggregate = opts->aggregate;
	t->skel->rodata->targ_events = opts->events || !opts->aggregate;
	t->skel->rodata->targ_follow = opts->follow;
	t->skel->rodata->targ_stop_on_exec = opts->stop_on_exec;
	t->skel->rodata->targ_report_exec = opts->report_exec;
	t->skel->rodata->targ_watch_exec = opts->watch_exec;
	t->skel->rodata->targ_gen = opts->filter_gen ? opts->gen : -1;
	t->skel->rodata->targ_pidns = opts->pidns;
	t->skel->rodata->targ_pidns_dev = opts->pidns_dev;
	t->skel->rodata->targ_pidns_ino = opts->pidns_ino;
	t->skel->rodata->targ_filter_cgroup = opts->cgroup_fd > 0;
	t->skel->rodata->targ_stack_depth = opts->stacks ? opts->stack_depth : 0;
	t->skel->rodata->targ_inside_depth = opts->stacks && opts->inside_hz ? GC_INSIDE_DEPTH : 0;
	t->skel->rodata->targ_wakeup_every = wakeup_every(t->skel, t->skel->rodata->targ_stack_depth);
	if (opts->comm) {
		t->skel->rodata->targ_filter_comm = true;
		strncpy((char *)t->skel->rodata->targ_comm, opts->comm, GCBPF_COMM_LEN - 1);
	}
	err = gcbpf_bpf__load(t->skel);
	if (err) {
		if ((err == -EPERM || err == -EACCES) && geteuid() != 0)
			err_fill(ebuf, elen, err, "cannot load BPF programs: %s; %s", strerror(-err),
				 PRIV_ADVICE);
		else
			err_fill(ebuf, elen, err, "cannot load BPF programs: %s (run with -v for the "
				 "verifier log)", strerror(-err));
		gcbpf_bpf__destroy(t->skel);
		t->skel = NULL;
		return err;
	}
	/* Before any probe runs: until then, no task's pid can be read. */
	if (opts->pidns && (err = find_pidns_level(t, ebuf, elen))) {
		tracer__close(t);
		return err;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		err_fill(ebuf, elen, err, "cannot set up the ring buffer: %s", strerror(-err));
		tracer__close(t);
		return err;
	}
	/*
	 * A ring is readable whenever it holds data: level-triggered, every poll
	 * would return at once while events flow, a wakeup per few hundred
	 * events. Edge-triggered, it returns on the BPF side's forced wakeups
	 * only (or the timeout): each poll drains the ring whole, so nothing
	 * waits longer than a poll interval. data.fd: libbpf's index, 0.
	 */
	if (epoll_ctl(ring_buffer__epoll_fd(t->rb), EPOLL_CTL_MOD, bpf_map__fd(t->skel->maps.events),
		      &(struct epoll_event){ .events = EPOLLIN | EPOLLET, .data.fd = 0 }))
		p_debug("the event ring stays level-triggered: %s", strerror(errno));
	if (opts->cgroup_fd > 0) {
		__u32 zero = 0;

		err = bpf_map__update_elem(t->skel->maps.cgroups, &zero, sizeof(zero),
					   &opts->cgroup_fd, sizeof(opts->cgroup_fd), BPF_ANY);
		if (err) {
			err_fill(ebuf, elen, err, "cannot set the cgroup filter: %s", strerror(-err));
			tracer__close(t);
			return err;
		}
	}
	/* Launch mode and system-wide attach later: a missing privilege is said now. */
	if ((opts->follow || opts->report_exec) && (err = check_uprobes(t, ebuf, elen))) {
		tracer__close(t);
		return err;
	}
	if (opts->inside_hz && opts->programs == PROGRAMS_GCBPF &&
	    (err = sampler__attach(t->skel->progs.inside_sample, opts->inside_hz, add_link_cb, t, ebuf,
				   elen))) {
		tracer__close(t);
		return err;
	}
	if (opts->stop_on_exec) {
		err = start_watchdog(t, ebuf, elen);
		if (err) {
			tracer__close(t);
			return err;
		}
	}
	if (opts->follow || opts->report_exec || opts->watch_exec) {
		err = attach_process_tracking(t, ebuf, elen);
		if (err) {
			tracer__close(t);
			return err;
		}
	}
	return 0;
}

int tracer__add_build(struct tracer *t, const struct py_build *b)
{
	__u32 idx;
	int i, err;

	for (i = 0; i < t->nr_builds; i++)
		if (t->builds[i]->dev == b->dev && t->builds[i]->ino == b->ino)
			return i;
	if (t->nr_builds == GCBPF_MAX_BINARIES)
		return -E2BIG;
	idx = t->nr_builds;
	err = bpf_map__update_elem(t->skel->maps.layouts, &idx, sizeof(idx), &b->layout,
				   sizeof(b->layout), BPF_ANY);
	if (err)
		return err;
	if (t->opts.stacks) {
		struct gc_stack_layout sl = {};

		/* No layout (read_len 0): its events say "no stack", said once. */
		pystack__add_build(t->opts.stacks, idx, b, &sl);
		err = bpf_map__update_elem(t->skel->maps.stack_layouts, &idx, sizeof(idx), &sl,
					   sizeof(sl), BPF_ANY);
		if (err)
			return err;
	}
	t->builds[idx] = malloc(sizeof(*b));
	if (!t->builds[idx])
		return -ENOMEM;
	*t->builds[idx] = *b;
	t->nr_builds++;
	return idx;
}

/* One probes-map slot: its index is the attach cookie. */
static int add_probe(struct tracer *t, int build, const struct py_probe_point *pt, __u32 *idx)
{
	struct gc_probe p = {
		.vaddr = pt->vaddr, .binary = build, .flags = pt->flags, .gen_arg = pt->gen_arg,
	};
	int err;

	if (t->nr_probes == GCBPF_MAX_PROBES)
		return -E2BIG;
	*idx = t->nr_probes;
	err = bpf_map__update_elem(t->skel->maps.probes, idx, sizeof(*idx), &p, sizeof(p),
				   BPF_ANY);
	if (!err)
		t->nr_probes++;
	return err;
}

/* The entry and exit programs for one probe kind (no exit: NULL). */
static void programs(const struct tracer *t, enum gc_probe_kind kind, struct bpf_program **enter,
		     struct bpf_program **exit)
{
	struct gcbpf_bpf *s = t->skel;

	switch (t->opts.programs) {
	case PROGRAMS_EMPTY:
		*enter = *exit = s->progs.probe_empty;
		return;
	case PROGRAMS_EMPTY_ONE:
		*enter = s->progs.probe_empty;
		*exit = NULL;
		return;
	case PROGRAMS_CLOCK:
		*enter = s->progs.clock_enter;
		*exit = s->progs.clock_exit;
		return;
	case PROGRAMS_GCBPF:
		break;
	}
	*enter = kind == GC_PROBE_USDT ? s->progs.usdt_gc_start : s->progs.uprobe_gc_enter;
	*exit = kind == GC_PROBE_USDT ? s->progs.usdt_gc_done : s->progs.uretprobe_gc_exit;
}

/*
 * One uprobe (or return probe) on probe point i of b; cookie: its probes-map
 * slot. A USDT point is a uprobe too, its semaphore counted by the kernel
 * (ref_ctr_offset) while attached: libbpf's USDT layer would cost a lookup of
 * its own spec per hit (~60 ns measured) for a cookie we can pass directly.
 */
static int attach_uprobe_one(struct tracer *t, struct bpf_program *prog, pid_t pid,
			     const struct py_build *b, int i, __u32 cookie, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie, .retprobe = retprobe,
		    .ref_ctr_offset = b->points[i].ref_ctr_offset);
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_opts(prog, pid, b->path, b->points[i].offset, &opts);
	return link ? add_link(t, link) : -errno;
}

/*
 * 3.15 (the statistics ring holds each collection's own record, times
 * included): gc__done alone, one trap per collection. The floors
 * (--empty-probes, --clock-probes) keep both points: they measure the
 * entry/exit design; --empty-probes=one is the one-trap design's floor.
 */
static bool one_probe(const struct tracer *t, const struct py_build *b)
{
	/* --inside needs the entry: the sampler samples between entry and exit. */
	return t->opts.programs == PROGRAMS_GCBPF && !t->opts.inside_hz &&
	       b->layout.stats_kind == GC_STATS_RING &&
	       b->layout.rec_ts_start >= 0 && b->layout.rec_ts_stop >= 0;
}

/* USDT: the entry program on gc__start, the exit program on gc__done. */
static int attach_usdt(struct tracer *t, int build, pid_t pid)
{
	const struct py_build *b = t->builds[build];
	struct bpf_program *start, *done;
	bool ring = one_probe(t, b);
	__u32 idx;
	int err;

	if (ring || t->opts.programs == PROGRAMS_EMPTY_ONE) {
		/* Its own slot: the program needs gc__done's address (load bias). */
		err = add_probe(t, build, &b->points[1], &idx);
		if (!err)
			err = attach_uprobe_one(t, ring ? t->skel->progs.usdt_ring_done :
						t->skel->progs.probe_empty, pid, b, 1, idx, false);
		return err;
	}
	programs(t, GC_PROBE_USDT, &start, &done);
	err = add_probe(t, build, &b->points[0], &idx);
	if (!err)
		err = attach_uprobe_one(t, start, pid, b, 0, idx, false);
	if (!err)
		err = attach_uprobe_one(t, done, pid, b, 1, idx, false);
	return err;
}

/* Uprobes: an entry and a return probe on every point (the collector and its clones). */
static int attach_uprobe(struct tracer *t, int build, pid_t pid)
{
	const struct py_build *b = t->builds[build];
	struct bpf_program *enter, *exit;
	int i, err;

	programs(t, GC_PROBE_UPROBE, &enter, &exit);
	for (i = 0; i < b->nr_points; i++) {
		__u32 idx;

		err = add_probe(t, build, &b->points[i], &idx);
		if (!err)
			err = attach_uprobe_one(t, enter, pid, b, i, idx, false);
		if (!err && exit)
			err = attach_uprobe_one(t, exit, pid, b, i, idx, true);
		if (err)
			return err;
	}
	return 0;
}

int tracer__attach(struct tracer *t, int build, pid_t pid, char *ebuf, size_t elen)
{
	const struct py_build *b = t->builds[build];
	struct tracer_attached *done = NULL;
	int i, err;

	/* A second attachment would report every collection twice. */
	for (i = 0; i < t->attached.nr; i++)
		if (t->attached.items[i].build == build && (t->attached.items[i].pid == pid ||
							    t->attached.items[i].pid == -1))
			return 0;
	err = b->probe == GC_PROBE_USDT ? attach_usdt(t, build, pid) : attach_uprobe(t, build, pid);
	if (!err && !(done = vec_push(&t->attached)))
		err = -ENOMEM;
	if (!err)
		*done = (struct tracer_attached){ build, pid };
	if (err)
		err_fill(ebuf, elen, err, "cannot attach %s probes to %s (pid %d): %s%s%s",
			 py_build__probe_name(b->probe), b->display_path, pid, strerror(-err),
			 err == -EPERM || err == -EACCES ? "; " : "",
			 err == -EPERM || err == -EACCES ? PRIV_ADVICE : "");
	return err;
}

/* Without its watchdog, stopping at exec is no longer safe: it ends. */
static void check_watchdog(struct tracer *t)
{
	if (t->watchdog <= 0 || waitpid(t->watchdog, NULL, WNOHANG) != t->watchdog)
		return;
	t->watchdog = 0;
	close(t->watchdog_fd);
	t->skel->data->stops_live = 0;
	p_warn("gcbpf's watchdog ended: processes are no longer stopped at exec, so a new "
	       "binary may miss its first collections");
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	int n = ring_buffer__poll(t->rb, timeout_ms);

	check_watchdog(t);

	if (n == -EINTR)
		n = 0;
	/* The BPF side wakes us only for large batches: collect the rest. */
	if (n >= 0)
		n = ring_buffer__consume(t->rb);
	if (t->opts.on_batch)
		t->opts.on_batch(t->opts.ctx);
	return n == -EINTR ? 0 : n;
}

void tracer__drain(struct tracer *t)
{
	if (t->rb)
		ring_buffer__consume(t->rb);
}

void tracer__counters(struct tracer *t, __u64 out[GC_CNT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	__u32 k;
	int c;

	memset(out, 0, GC_CNT_MAX * sizeof(out[0]));
	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	for (k = 0; k < GC_CNT_MAX; k++) {
		if (bpf_map__lookup_elem(t->skel->maps.counters, &k, sizeof(k), vals,
					 ncpu * sizeof(*vals), 0))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
}

static int hist_key_cmp(const void *a, const void *b)
{
	const struct gc_hist_key *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen < y->gen ? -1 : 1;
	return x->iid < y->iid ? -1 : x->iid > y->iid;
}

/* Every key of the hists map, sorted: a process's interpreters side by side. */
static int hist_keys(int fd, struct gc_hist_key **out)
{
	struct gc_hist_key key, next, *prev = NULL, *keys = NULL, *k;
	size_t n = 0, cap = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			k = realloc(keys, cap * sizeof(*keys));
			if (!k) {
				free(keys);
				return -ENOMEM;
			}
			keys = k;
		}
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	if (n)
		qsort(keys, n, sizeof(*keys), hist_key_cmp);
	*out = keys;
	return n;
}

/* One call per process and generation, its interpreters' entries merged. */
int tracer__for_each_hist(struct tracer *t, tracer_hist_fn cb, void *ctx)
{
	int fd = bpf_map__fd(t->skel->maps.hists), n = 0, nk, i;
	struct gc_hist *h = malloc(sizeof(*h)), *acc = malloc(sizeof(*acc));
	struct gc_hist_key *keys = NULL;
	bool have = false;

	nk = h && acc ? hist_keys(fd, &keys) : -ENOMEM;
	for (i = 0; i < nk; i++) {
		if (!bpf_map_lookup_elem(fd, &keys[i], h)) {	/* else deleted meanwhile */
			if (!have) {
				memcpy(acc, h, sizeof(*h));
			} else {
				hdr__merge(acc, h);
				if (!acc->named && h->named) {	/* the lowest id's gauges and name */
					memcpy(acc->comm, h->comm, sizeof(acc->comm));
					acc->heap_size = h->heap_size;
					acc->long_lived_total = h->long_lived_total;
					acc->rss = h->rss;
					acc->named = 1;
				}
			}
			have = true;
		}
		if (have && (i + 1 == nk || keys[i + 1].pid != keys[i].pid ||
			     keys[i + 1].gen != keys[i].gen)) {
			struct gc_hist_key k = { .pid = keys[i].pid, .gen = keys[i].gen, .iid = -1 };

			cb(ctx, &k, acc);
			n++;
			have = false;
		}
	}
	free(keys);
	free(h);
	free(acc);
	return nk < 0 ? nk : n;
}

void tracer__forget_pid(struct tracer *t, __u32 pid)
{
	int fd = bpf_map__fd(t->skel->maps.hists), nk, i;
	struct gc_hist_key *keys = NULL;

	nk = hist_keys(fd, &keys);
	for (i = 0; i < nk; i++)
		if (keys[i].pid == pid)
			bpf_map_delete_elem(fd, &keys[i]);
	free(keys);
}

const struct py_build *tracer__build(const struct tracer *t, __u32 idx)
{
	return idx < (__u32)t->nr_builds ? t->builds[idx] : NULL;
}

void tracer__close(struct tracer *t)
{
	int i;

	stop_watchdog(t);
	for (i = 0; i < t->links.nr; i++)
		bpf_link__destroy(t->links.items[i]);
	vec_free(&t->links);
	vec_free(&t->attached);
	ring_buffer__free(t->rb);
	gcbpf_bpf__destroy(t->skel);
	for (i = 0; i < t->nr_builds; i++)
		free(t->builds[i]);
	memset(t, 0, sizeof(*t));
}
