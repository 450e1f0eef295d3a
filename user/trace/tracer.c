// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF object: kernel support and privileges checked up front, the
 * settings written before load, only the programs a run needs loaded, and
 * close. The rest of the tracer, one subject a file: tracer_attach.c (probes
 * and tracepoints), tracer_ring.c (events and the poll), tracer_watchdog.c
 * (stops at exec), tracer_counts.c (the kernel's counters and histograms).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gcbpf.skel.h"
#include "util/log.h"
#include "python/pystack.h"
#include "trace/tracer.h"
#include "trace/tracer_attach.h"
#include "trace/tracer_ring.h"
#include "trace/tracer_watchdog.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !log_verbose)
		return 0;
	if (level == LIBBPF_WARN && !log_verbose)
		return 0;	/* failures are reported by gcbpf itself, in one line */
	log__vline("", fmt, args);	/* to top's message line while top runs */
	return 0;
}

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
	t->skel->rodata->targ_wakeup_every = ring__wakeup_every(t->skel,
								 t->skel->rodata->targ_stack_depth);
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
	err = ring__open(t, ebuf, elen);
	if (err) {
		tracer__close(t);
		return err;
	}
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
	    (err = attach__sampler(t, ebuf, elen))) {
		tracer__close(t);
		return err;
	}
	if (opts->stop_on_exec) {
		err = watchdog__start(t, ebuf, elen);
		if (err) {
			tracer__close(t);
			return err;
		}
	}
	if (opts->follow || opts->report_exec || opts->watch_exec) {
		err = attach__processes(t, ebuf, elen);
		if (err) {
			tracer__close(t);
			return err;
		}
	}
	return 0;
}

const struct py_build *tracer__build(const struct tracer *t, __u32 idx)
{
	return idx < (__u32)t->nr_builds ? t->builds[idx] : NULL;
}

void tracer__close(struct tracer *t)
{
	int i;

	watchdog__stop(t);
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
