// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf: one event per CPython garbage collection.
 *
 * Entry and exit of a collection are seen either through the USDT pair
 * python:gc__start/gc__done or through a uprobe/uretprobe pair on the static
 * collector. Both sides snapshot the per-generation statistics the
 * interpreter keeps (collections/collected/uncollectable); the generation is
 * the one whose collection count moved, the counts are the deltas. That is
 * exact on every version, and it also drops 3.13+ automatic entries that
 * return without collecting (no counter moves).
 *
 * Nothing here is per process: addresses come from the load bias
 * (IP - probe vaddr) and a per-binary layout, so one attachment per binary
 * serves every process mapping it.
 *
 * This file: the settings, the shared maps and the collection's entry and
 * exit programs. Included, one subject each: pidns.bpf.h (pids as our
 * namespace numbers them), stats.bpf.h (reading the statistics), copy.bpf.h
 * (one read per collection), task.bpf.h (the current task, the filters),
 * stack.bpf.h (--stacks), ring.bpf.h (3.15's one-trap gc__done), bench.bpf.h
 * (the benchmark's reference probes), proc.bpf.h (fork, exit, exec).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "gcbpf.h"
#include "hist.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load. */
/* Events a CPU submits per wakeup of the loader (trace/tracer_ring.c: half the ring over all CPUs). */
const volatile __u32 targ_wakeup_every = 4096;
const volatile __u64 targ_min_ns = 0;	/* per-event output only for pauses >= this */
const volatile bool targ_aggregate = false;	/* count every pause into hists */
const volatile bool targ_events = true;		/* push an event per collection */
const volatile bool targ_follow = false;	/* only processes in `tracked` (a command's tree) */
const volatile bool targ_filter_cgroup = false;	/* only tasks under cgroups[0] */
const volatile bool targ_filter_comm = false;
const volatile char targ_comm[GCBPF_COMM_LEN] = {};
const volatile __s32 targ_gen = -1;		/* only this generation, -1: all */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GCBPF_MAX_BINARIES);
	__type(key, __u32);
	__type(value, struct gc_layout);
} layouts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GCBPF_MAX_PROBES);
	__type(key, __u32);
	__type(value, struct gc_probe);
} probes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* 60k events: 100 ms at 600k collections/s */
} events SEC(".maps");

/*
 * Launch mode: the command and every process it forks, by tgid; -p: the
 * targets. Value: enum gc_tracked (TRACKED_STOPPED once stopped at an exec).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps");

/* --cgroup: the cgroup whose tasks (and descendants') are traced. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GC_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Every pause per process and generation, whatever reaches the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 3 * 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct gc_hist_key);
	__type(value, struct gc_hist);
} hists SEC(".maps");

/* All zeroes: the initial value of a hists entry (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gc_hist);
} hist_zero SEC(".maps");

#include "copy_types.bpf.h"

/* A collection in progress on this thread, and what it last resolved. */
struct inflight {
	__u8 before[GC_RING_BYTES];	/* statistics at the entry (GC_SNAP_BYTES or a 3.15 ring) */
	__u8 after[GC_RING_BYTES];	/* ... and at the exit */
	__u64 ts_start;
	__u64 gcstate;
	__u64 stats_addr;	/* where the statistics are read from */
	__u64 resolved_key;	/* tstate (or anchor) gcstate/iid were resolved for */
	__u64 resolved_mm;	/* ... in this address space */
	__s64 iid;
	__u32 binary;
	__s16 gen_hint;		/* generation the probe was told, -1 if not told */
	__s8 reason;
	__u8 probe;
	__u8 active;
	__u8 stats_ok;
	__u8 followed;		/* passed the `tracked` check (launch mode) */
	__u8 use_copy;		/* before comes from the interpreter's copy at the exit (copy.bpf.h) */
	__s8 copy_slot;
	__u64 stack_tstate;	/* --stacks: the collector's tstate argument, 0 if not given */
	__u64 stack_bias;	/* --stacks: the binary's load bias */
	__u64 inside_tstate;	/* --inside: the collecting thread's state, found at the entry */
	__u64 inside_base;	/* ... its innermost frame then: samples walk down to it */
	__u32 inside_samples;	/* ... samples sent during this collection */
	__u32 inside_pad;
	struct proc_copies copies;	/* the main thread's: its process's (copy.bpf.h) */
};

/* Per thread, without a global lock; freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
}

#include "stack.bpf.h"
#include "pidns.bpf.h"
#include "stats.bpf.h"
#include "inside.bpf.h"
#include "copy.bpf.h"
#include "task.bpf.h"

/* A USDT argument (gc__start's generation), -1 if it cannot be fetched. */
static __always_inline long usdt_arg(struct pt_regs *ctx, const struct gc_usdt_arg *a)
{
	__u32 bytes = a->size < 0 ? -a->size : a->size;
	__u64 v = 0;

	if (a->reg_off < 0 || a->reg_off > sizeof(*ctx) - 8 || bytes < 1 || bytes > 8)
		return -1;
	/* ctx is read at a variable offset: not a direct load. */
	if (bpf_probe_read_kernel(&v, sizeof(v), (void *)ctx + a->reg_off))
		return -1;
	if (a->deref && bpf_probe_read_user(&v, bytes, (void *)(v + a->disp)))
		return -1;
	v <<= 64 - 8 * bytes;	/* the low `bytes`, sign- or zero-extended */
	return a->size < 0 ? (long)((__s64)v >> (64 - 8 * bytes)) : (long)(v >> (64 - 8 * bytes));
}

/*
 * What a probe at a collection's start does first (gc_enter; 3.15's one-trap
 * gc__done): its probe and its binary's layout, whether this task is traced,
 * the task's state (made on its first collection), the GC state's address
 * and the stack's registers. NULL: not traced.
 */
static __always_inline struct inflight *probe_begin(struct pt_regs *ctx, __u32 idx,
						    struct task_struct *task, struct gc_probe **pp,
						    struct gc_layout **lp)
{
	struct gc_probe *p = bpf_map_lookup_elem(&probes, &idx);
	struct gc_layout *l;
	struct inflight *st;

	if (!p)
		return NULL;
	st = bpf_task_storage_get(&inflight, task, 0, 0);
	if (!wanted(st, true))
		return NULL;
	l = bpf_map_lookup_elem(&layouts, &p->binary);
	if (!l)
		return NULL;
	if (!st)
		st = bpf_task_storage_get(&inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return NULL;
	st->followed = 1;
	resolve_gcstate(ctx, p, l, st);
	stack__enter(ctx, p, st);
	*pp = p;
	*lp = l;
	return st;
}

static __always_inline int gc_enter(struct pt_regs *ctx, __u64 probe_idx, __u8 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct gc_layout *l;
	struct gc_probe *p;
	struct inflight *st = probe_begin(ctx, probe_idx, task, &p, &l);

	if (!st)
		return 0;
	st->gen_hint = (p->flags & GC_PROBE_GEN_ESI) ? (int)PT_REGS_PARM2(ctx) : -1;
	st->reason = (p->flags & GC_PROBE_REASON_RDX) ? (__s8)PT_REGS_PARM3(ctx) : -1;
	st->probe = kind;
	if (copy__enter(l, st, task->pid)) {	/* a direct load: no helper call */
		st->stats_ok = 1;	/* read at the exit only */
	} else {
		st->stats_ok = read_snapshot(l, st->stats_addr, st->before) == 0;
		if (st->stats_ok && copy__usable(l))
			count(GC_CNT_ENTRY_READS);
		if (!st->stats_ok && kind == GC_PROBE_USDT)
			st->gen_hint = usdt_arg(ctx, &p->gen_arg);
	}
	inside__enter(st, l);
	st->active = 1;
	st->ts_start = bpf_ktime_get_ns();
	return 0;
}

/*
 * The gauges an event would carry: tracked objects at the start (3.14+) and
 * long_lived_total after the collection (3.8-3.13), -1 where unknown.
 */
static __always_inline void gauges(const struct gc_layout *l, const struct inflight *st,
				   const struct gen_record *after, __s64 *heap_size,
				   __s64 *long_lived_total)
{
	if (!st->stats_ok) {
		*heap_size = *long_lived_total = -1;
	} else if (l->stats_kind == GC_STATS_RING) {
		*heap_size = after->heap_size;
		*long_lived_total = -1;
	} else {
		*heap_size = snap_counter(st->before, l->snap_heap_size);
		*long_lived_total = snap_counter(st->after, l->snap_long_lived);
	}
}

static __always_inline void aggregate(__u32 pid, __s64 iid, int gen, __u64 ns, __s64 collected,
				      __s64 uncollectable, __s64 heap_size, __s64 long_lived_total)
{
	struct gc_hist_key key = { .pid = pid, .gen = gen, .iid = iid };
	struct gc_hist *h = bpf_map_lookup_elem(&hists, &key);
	__u32 zero = 0, b;

	if (!h) {
		struct gc_hist *init = bpf_map_lookup_elem(&hist_zero, &zero);

		if (!init)
			return;
		bpf_map_update_elem(&hists, &key, init, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h) {
			count(GC_CNT_HIST_FULL);
			return;
		}
		/* Named once: with no events, the loader may find the process gone. */
		process_comm(h->comm);
		h->named = 1;
	}
	/* Last writer wins: gauges, not counts. */
	h->heap_size = heap_size;
	h->long_lived_total = long_lived_total;
	h->rss = current_rss();
	/* No atomics (~8 ns each): one interpreter's exits run one at a time
	 * (hist.h). */
	h->count += 1;
	h->sum_ns += ns;
	if (collected > 0)
		h->collected += collected;
	if (uncollectable > 0)
		h->uncollectable += uncollectable;
	if (ns > h->max_ns)
		h->max_ns = ns;
	b = gc_hist_bucket(ns);
	/* One register for the check and the index, or the verifier sees an
	 * unchecked copy. */
	asm volatile("" : "+r"(b));
	if (b < GC_HIST_BUCKETS)
		h->buckets[b] += 1;
}

/*
 * No counter moved. Through uprobes: a 3.13+ call that returned without
 * collecting. Through USDT, which fires for real collections only: one of
 * another interpreter than the one read (counted, not silently lost).
 */
static __always_inline int no_collection(struct inflight *st, __u64 ts_stop)
{
	inside__end(st, -1, ts_stop);
	if (st->probe == GC_PROBE_USDT)
		count(GC_CNT_UNATTRIBUTED);
	return 0;
}

/*
 * The loader drains the ring every poll interval; a wakeup per event would
 * bill the target for a context switch, and asking the ring how full it is
 * reads the consumer's cache line (~400 ns measured). A per-CPU count forces
 * a wakeup every targ_wakeup_every events instead, sized so that the ring is
 * at most half full when every CPU is just short of it: the 100 ms poll
 * collects the rest.
 */
static __always_inline void submit_event(struct gc_event *e)
{
	__u32 submitted_key = GC_CNT_SUBMITTED;
	__u64 *submitted = bpf_map_lookup_elem(&counters, &submitted_key);

	bpf_ringbuf_submit(e, submitted && ++*submitted % targ_wakeup_every == 0
				      ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline int gc_exit(void)
{
	__u64 ts_stop = bpf_ktime_get_ns();
	struct gen_record before = {}, after = {};	/* = {}: clang may spill them unset */
	struct gc_layout *l;
	struct inflight *st;
	struct gc_event *e;
	__u64 pid_tgid;
	__s64 heap_size, long_lived_total;
	bool stale = false;
	int gen = -1, i;

	st = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
	if (!st || !st->active) {
		/* Probes are per binary: an untraced process running the same
		 * binary exits here too, and is not a missed entry. */
		if (st || wanted(NULL, false))
			count(GC_CNT_NO_ENTRY);
		return 0;
	}
	st->active = 0;
	l = bpf_map_lookup_elem(&layouts, &st->binary);
	if (!l)
		return 0;

	if (st->stats_ok && read_snapshot(l, st->stats_addr, st->after) == 0) {
		if (st->use_copy) {
			enum copy_verdict v = copy__exit(st, &gen, &before, &after);

			/* 3.13+: an entry that returned without collecting. */
			if (v == COPY_NONE)
				return no_collection(st, ts_stop);
			if (v == COPY_STALE) {
				stale = true;
				st->stats_ok = 0;
			}
		} else {
			for (i = 0; i < 3; i++) {
				if (snap_gen(l, st->before, i, &before) ||
				    snap_gen(l, st->after, i, &after))
					break;
				if (after.collections != before.collections) {
					gen = i;
					break;
				}
			}
			/* 3.13+: an automatic entry below every threshold returns
			 * without collecting; no counter moved, so no event. */
			if (gen < 0)
				return no_collection(st, ts_stop);
			/* Read again: the loop may have stopped on another generation. */
			if (snap_gen(l, st->before, gen, &before) ||
			    snap_gen(l, st->after, gen, &after))
				st->stats_ok = 0;
			/* The next collection of this interpreter compares with this
			 * read (copy__exit stores it on the copy path). */
			copy__store(l, st);
		}
	} else {
		if (st->use_copy)
			copy__drop(st);
		st->stats_ok = 0;
	}
	if (!st->stats_ok) {
		count(stale ? GC_CNT_STALE : GC_CNT_READ_ERRORS);
		gen = -1;
		if (st->gen_hint < 0 || st->gen_hint > 2) {
			inside__end(st, -1, ts_stop);
			return 0;
		}
		gen = st->gen_hint;
	}
	if (targ_gen >= 0 && gen != targ_gen) {
		inside__end(st, -1, ts_stop);
		return 0;
	}
	pid_tgid = pidns__pid_tgid(NULL);
	if (!pid_tgid) {
		count(GC_CNT_FOREIGN);	/* cannot be: it was ours at the entry */
		return 0;
	}
	gauges(l, st, &after, &heap_size, &long_lived_total);
	if (targ_aggregate)
		aggregate(pid_tgid >> 32, st->iid, gen, ts_stop - st->ts_start,
			  st->stats_ok ? after.collected - before.collected : 0,
			  st->stats_ok ? after.uncollectable - before.uncollectable : 0,
			  heap_size, long_lived_total);
	/* Aggregation only (-q with --stats/--hist/--prometheus): no record. */
	if (!targ_events || ts_stop - st->ts_start < targ_min_ns) {
		inside__end(st, gen, ts_stop);
		return 0;
	}

	stack__capture(st, l, pid_tgid >> 32);	/* after the exit: not part of the pause */
	e = bpf_ringbuf_reserve(&events, sizeof(*e) + stack__bytes(), 0);
	if (!e) {
		count(GC_CNT_LOST);
		inside__end(st, gen, ts_stop);
		return 0;
	}
	e->record = GC_REC_EVENT;
	e->ts_start = st->ts_start;
	e->ts_stop = ts_stop;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->binary = st->binary;
	e->gen = gen;
	e->reason = st->reason;
	e->probe = st->probe;
	e->iid = st->iid;
	e->cgroup_id = current_cgroup_id();
	e->rss = current_rss();
	if (st->stats_ok) {
		e->collections = after.collections;
		e->collected = after.collected - before.collected;
		e->uncollectable = after.uncollectable - before.uncollectable;
		e->heap_size = heap_size;
		e->long_lived_total = long_lived_total;
		if (l->stats_kind == GC_STATS_RING) {
			e->candidates = after.candidates - before.candidates;
			e->long_lived_pending = -1;
		} else {
			e->candidates = -1;
			e->long_lived_pending = snap_counter(st->after, l->snap_long_lived_pending);
		}
		e->flags = 0;
	} else {
		e->collections = -1;
		e->candidates = -1;
		e->collected = -1;
		e->uncollectable = -1;
		e->heap_size = -1;
		e->long_lived_total = -1;
		e->long_lived_pending = -1;
		e->flags = GC_EV_READ_ERROR;
	}
	process_comm(e->comm);
	stack__fill(st, e);
	submit_event(e);
	return 0;
}

/* USDT points are attached as plain uprobes (the loader counts their
 * semaphores), so the cookie is the probes-map slot here too. */
SEC("uprobe")
int usdt_gc_start(struct pt_regs *ctx)
{
	return gc_enter(ctx, bpf_get_attach_cookie(ctx), GC_PROBE_USDT);
}

SEC("uprobe")
int usdt_gc_done(struct pt_regs *ctx)
{
	return gc_exit();
}

SEC("uprobe")
int BPF_KPROBE(uprobe_gc_enter)
{
	return gc_enter(ctx, bpf_get_attach_cookie(ctx), GC_PROBE_UPROBE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_gc_exit)
{
	return gc_exit();
}

/* 3.15 with USDT: gc__done alone, from the interpreter's own record. */
#include "ring.bpf.h"

/* --empty-probes, --clock-probes. */
#include "bench.bpf.h"

/* fork, exit, exec. */
#include "proc.bpf.h"
