// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching: a build's layout into the maps, one probes-map slot per probe
 * point (its index is the attach cookie), the programs a run puts on each
 * point (USDT, uprobes, 3.15's one trap, the benchmark's floors), once per
 * build and process; and the fork/exit/exec tracepoints.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "gcbpf.skel.h"
#include "util/log.h"
#include "python/pystack.h"
#include "trace/tracer.h"
#include "trace/tracer_attach.h"
#include "trace/tracer_ring.h"
#include "trace/sampler.h"

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

/* --inside: the sampling program on a CPU-clock perf event per CPU. */
int attach__sampler(struct tracer *t, char *ebuf, size_t elen)
{
	return sampler__attach(t->skel->progs.inside_sample, t->opts.inside_hz, add_link_cb, t, ebuf,
			       elen);
}

/* fork/exit/exec tracepoints, for a command's tree or the whole host. */
int attach__processes(struct tracer *t, char *ebuf, size_t elen)
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
	err = ring__add_proc_events(t);
	if (err)
		err_fill(ebuf, elen, err, "cannot read process events: %s", strerror(-err));
	return err;
}

int tracer__track(struct tracer *t, pid_t pid)
{
	__u32 key = pid;
	__u8 one = TRACKED;

	return bpf_map__update_elem(t->skel->maps.tracked, &key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
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
