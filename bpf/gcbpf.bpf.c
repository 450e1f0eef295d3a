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
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "gcbpf.h"
#include "hist.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load. */
/* Events a CPU submits per wakeup of the loader (tracer.c: half the ring over all CPUs). */
const volatile __u32 targ_wakeup_every = 4096;
const volatile __u64 targ_min_ns = 0;	/* per-event output only for pauses >= this */
const volatile bool targ_aggregate = false;	/* count every pause into hists */
const volatile bool targ_events = true;		/* push an event per collection */
const volatile bool targ_follow = false;	/* only processes in `tracked` (a command's tree) */
const volatile bool targ_stop_on_exec = false;	/* ... stopped at exec until the loader armed probes */
const volatile bool targ_watch_exec = false;	/* -p: report execs of the processes in `tracked` */
/*
 * Cleared by the loader before it stops reading exec events, and by its
 * watchdog when the loader died: nobody would continue a process stopped after.
 */
__u32 stops_live = 1;
const volatile bool targ_report_exec = false;	/* system-wide: report every exec */
const volatile bool targ_filter_cgroup = false;	/* only tasks under cgroups[0] */
const volatile bool targ_filter_comm = false;
const volatile char targ_comm[GCBPF_COMM_LEN] = {};
const volatile __s32 targ_gen = -1;		/* only this generation, -1: all */

#define SIGSTOP 19

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

/* Process-lifecycle notifications (enum gc_proc_event_type). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} proc_events SEC(".maps");

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
#include "inside.bpf.h"

static __always_inline __u64 read_ptr(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* The statistics: one bpf_probe_read_user per probe, the dominant cost. */
static __always_inline int read_snapshot(const struct gc_layout *l, __u64 addr, __u8 *buf)
{
	/* 64 bits and one register for the check and the size, or the
	 * verifier sees an unbounded copy. */
	__u64 n = (__u32)l->snap_bytes;

	if (!addr)
		return -1;
	asm volatile("" : "+r"(n));
	if (l->stats_kind == GC_STATS_RING) {
		__s32 seq = l->ring_seq_off;

		if (n > GC_RING_BYTES)
			return -1;
		/* 3.15's seqlock: the writer is the collector itself, on the
		 * thread this probe runs on, so an odd count means corruption. */
		if (bpf_probe_read_user(buf, n, (void *)addr))
			return -1;
		if (seq < 0 || seq > GC_RING_BYTES - 4)
			return -1;
		return (*(__u32 *)(buf + seq) & 1) ? -1 : 0;
	}
	/* Through the stack: copying user memory straight into map memory
	 * costs more per read (measured ~35 ns) than the copy that follows. */
	{
		__u64 tmp[GC_SNAP_BYTES / 8];
		int i, err;

		if (n > GC_SNAP_BYTES)
			return -1;
		err = bpf_probe_read_user(tmp, n, (void *)addr);
		if (err)
			return err;
		/* Only what was read (snap_bytes is 8-aligned). */
		for (i = 0; i < GC_SNAP_BYTES / 8 && i * 8 < n; i++)
			((__u64 *)buf)[i] = tmp[i];
		return 0;
	}
}

static __always_inline __s64 snap_counter(const __u8 *buf, __s32 off)
{
	__u32 o = off;	/* negative: huge */

	/* One register for the check and the load, or the verifier sees an
	 * unchecked copy. */
	asm volatile("" : "+r"(o));
	if (o > GC_RING_BYTES - 8)
		return -1;
	return *(const __s64 *)(buf + o);
}

/* Cumulative counters of one generation as a snapshot shows them. */
struct gen_record {
	__s64 collections;
	__s64 collected;
	__s64 uncollectable;
	__s64 candidates;	/* 3.15 */
	__s64 heap_size;	/* 3.15: at the start of that generation's newest collection */
};

/* Field off of the record at base: 0, or -1 when it is outside the snapshot. */
static __always_inline int rec_field(const __u8 *buf, __s32 base, __s32 off, __s64 *v)
{
	if (off < 0) {
		*v = -1;	/* not in this version's record */
		return 0;
	}
	off += base;
	if (off < 0 || off > GC_RING_BYTES - 8)
		return -1;
	*v = *(const __s64 *)(buf + off);
	return 0;
}

static __always_inline int snap_gen(const struct gc_layout *l, const __u8 *buf, int gen,
				    struct gen_record *r)
{
	__s32 base;

	if (gen < 0 || gen > 2)
		return -1;
	if (l->stats_kind == GC_STATS_RING) {
		__s32 idx_off = l->ring_index_off[gen];
		__s8 idx;

		if (idx_off < 0 || idx_off > GC_RING_BYTES - 1)
			return -1;
		/* The low byte is the index whatever its width (little-endian). */
		idx = *(const __s8 *)(buf + idx_off);
		if (idx < 0 || idx >= l->ring_len[gen])
			return -1;
		base = l->ring_items_off[gen] + idx * l->rec_size;
	} else {
		base = gen * l->rec_size;	/* generation_stats[3] */
	}
	if (rec_field(buf, base, l->rec_collections, &r->collections) ||
	    rec_field(buf, base, l->rec_collected, &r->collected) ||
	    rec_field(buf, base, l->rec_uncollectable, &r->uncollectable) ||
	    rec_field(buf, base, l->rec_candidates, &r->candidates) ||
	    rec_field(buf, base, l->rec_heap_size, &r->heap_size))
		return -1;
	return 0;
}

#include "copy.bpf.h"

/*
 * GC state and interpreter id for this thread. The collector's tstate (or
 * the main interpreter) rarely changes for a thread, so the result is
 * remembered and re-resolved only when the key changes.
 */
static __always_inline void resolve_gcstate(struct pt_regs *ctx, const struct gc_probe *p,
					    const struct gc_layout *l, struct inflight *st)
{
	__u64 anchor = PT_REGS_IP(ctx) - p->vaddr + l->anchor_vaddr;
	bool by_tstate = (p->flags & GC_PROBE_TSTATE_RDI) && l->tstate_interp_off >= 0;
	__u64 key = by_tstate ? PT_REGS_PARM1(ctx) : anchor;
	/* Task storage survives exec: the address space is part of the key. */
	__u64 mm = (__u64)bpf_get_current_task_btf()->mm;
	__u64 interp = 0;

	if (key == st->resolved_key && mm == st->resolved_mm && st->binary == p->binary &&
	    st->gcstate)
		return;
	st->resolved_mm = mm;
	st->binary = p->binary;
	st->iid = -1;
	if (l->main_interp_off < 0) {
		st->gcstate = anchor + l->gc_off;
	} else {
		/* The thread's own interpreter when the collector was handed its
		 * tstate, so subinterpreters are attributed right. */
		if (by_tstate)
			interp = read_ptr(key + l->tstate_interp_off);
		if (!interp)
			interp = read_ptr(anchor + l->main_interp_off);
		st->gcstate = interp ? interp + l->gc_off : 0;
		if (interp && l->interp_id_off >= 0 &&
		    bpf_probe_read_user(&st->iid, sizeof(st->iid), (void *)(interp + l->interp_id_off)))
			st->iid = -1;
	}
	st->stats_addr = 0;
	if (st->gcstate)
		st->stats_addr = l->stats_kind == GC_STATS_RING ? read_ptr(st->gcstate + l->stats_off)
								 : st->gcstate + l->stats_off;
	st->resolved_key = st->stats_addr ? key : 0;
}

/*
 * The process's name: its main thread's comm. The collecting thread's own
 * comm may be a thread name (3.14+ names threads after threading.Thread).
 * Two direct loads through the BTF pointer: a helper call costs ~30 ns here.
 */
static __always_inline void process_comm(char comm[GCBPF_COMM_LEN])
{
	struct task_struct *leader = bpf_get_current_task_btf()->group_leader;

	((__u64 *)comm)[0] = *(__u64 *)&leader->comm[0];
	((__u64 *)comm)[1] = *(__u64 *)&leader->comm[8];
}

/*
 * Resident memory as /proc/PID/status's VmRSS gives it (get_mm_counter: the
 * counters' shared part, file + anon + shmem pages), by direct BTF loads.
 */
static __always_inline __s64 current_rss(void)
{
	struct mm_struct *mm = bpf_get_current_task_btf()->mm;
	__s64 pages;

	if (!mm)
		return -1;
	pages = mm->rss_stat[MM_FILEPAGES].count + mm->rss_stat[MM_ANONPAGES].count +
		mm->rss_stat[MM_SHMEMPAGES].count;
	return pages < 0 ? 0 : pages * 4096;	/* x86-64 pages */
}

/* bpf_get_current_cgroup_id() without the helper call: the same pointers. */
static __always_inline __u64 current_cgroup_id(void)
{
	return bpf_get_current_task_btf()->cgroups->dfl_cgrp->kn->id;
}

/*
 * Whether this process is one the user asked for (probes are per binary).
 * A followed process stays in `tracked` while it lives and a thread's
 * storage dies with the thread, so a thread that passed once is not looked
 * up again (~65 ns a probe); nor is its PID namespace, fixed for life.
 * comm and cgroup can change: checked each time. entry: a collector entry,
 * counted when the process is outside our PID namespace.
 */
static __always_inline bool wanted(const struct inflight *st, bool entry)
{
	if ((targ_follow || targ_pidns) && !(st && st->followed)) {
		__u64 pid_tgid = pidns__pid_tgid(NULL);
		__u32 tgid = pid_tgid >> 32;

		if (!pid_tgid) {
			if (entry)
				count(GC_CNT_FOREIGN);
			return false;
		}
		if (targ_follow && !bpf_map_lookup_elem(&tracked, &tgid))
			return false;
	}
	if (targ_filter_cgroup && bpf_current_task_under_cgroup(&cgroups, 0) != 1)
		return false;
	if (targ_filter_comm) {
		char comm[GCBPF_COMM_LEN];
		int i;

		process_comm(comm);
		for (i = 0; i < GCBPF_COMM_LEN; i++) {
			if (comm[i] != targ_comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	return true;
}

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

/* The floor of an entry/exit design, for `gcbpf --empty-probes` (benchmark). */
SEC("uprobe")
int probe_empty(struct pt_regs *ctx)
{
	return 0;
}

/*
 * The floor of any pause tracer, for `gcbpf --clock-probes` (benchmark): a
 * timestamp kept per thread at the entry, a duration at the exit. Attached
 * to every kind of point.
 */
struct clock_state {
	__u64 ts_start;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct clock_state);
} clock_states SEC(".maps");

SEC("uprobe")
int clock_enter(struct pt_regs *ctx)
{
	struct clock_state *c = bpf_task_storage_get(&clock_states, bpf_get_current_task_btf(), 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (c)
		c->ts_start = bpf_ktime_get_ns();
	return 0;
}

SEC("uprobe")
int clock_exit(struct pt_regs *ctx)
{
	struct clock_state *c = bpf_task_storage_get(&clock_states, bpf_get_current_task_btf(), 0, 0);

	if (c && c->ts_start)
		c->last_ns = bpf_ktime_get_ns() - c->ts_start;
	return 0;
}

/* Launch mode: a tracked process's children are tracked from the fork. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(follow_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid;
	__u8 one = 1;

	if (!targ_follow)
		return 0;	/* -p targets' children are not theirs */
	ptgid = pidns__pid_tgid(parent) >> 32;
	ctgid = pidns__pid_tgid(child) >> 32;
	/* 0: outside our namespace, never in `tracked` */
	if (ptgid == ctgid || !bpf_map_lookup_elem(&tracked, &ptgid))
		return 0;	/* a thread; not ours */
	bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY);
	return 0;
}

/* A tracked tgid is forgotten when its process ends, so pids can be reused. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(follow_exit, struct task_struct *p)
{
	__u64 pid_tgid = pidns__pid_tgid(p);
	__u32 tgid = pid_tgid >> 32;

	/* tgid 0: outside our namespace, never in `tracked` */
	if (tgid && (__u32)pid_tgid == tgid)
		bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/*
 * exec: the loader inspects the new image and arms probes for a new binary.
 * In launch mode the process is stopped first (SIGSTOP, delivered before
 * the new image's first instruction) so its first collection is seen; the
 * loader continues it. The mark in `tracked` lets the loader's watchdog
 * find it if the loader dies first. System-wide and -p, nothing is stopped.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(notify_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = pidns__pid_tgid(p) >> 32, zero = 0;
	struct gc_proc_event *e;
	__u8 *mark;
	bool follow;

	/* Outside our namespace: its /proc entry, were it reported, would be
	 * another process's. */
	if (!tgid) {
		if (targ_report_exec)
			count(GC_CNT_FOREIGN_EXEC);
		return 0;
	}
	mark = targ_follow || targ_watch_exec ? bpf_map_lookup_elem(&tracked, &tgid) : NULL;
	follow = mark != NULL;
	if (!follow && !targ_report_exec)
		return 0;
	e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		__u32 which = GC_CNT_PROC_LOST;
		__u64 *c = bpf_map_lookup_elem(&counters, &which);

		if (c)
			*c += 1;
		return 0;	/* not stopped: nobody would continue it */
	}
	e->ts = bpf_ktime_get_ns();
	e->type = PROC_EXEC;
	e->pid = tgid;
	e->stopped = follow && targ_stop_on_exec && stops_live && bpf_send_signal(SIGSTOP) == 0;
	if (e->stopped)
		*mark = TRACKED_STOPPED;
	e->pad = zero;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
