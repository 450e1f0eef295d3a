/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 3.15 with USDT: one trap per collection. The interpreter keeps its own
 * record of every collection in its statistics ring (GC_STATS_RING): start
 * and stop time (CLOCK_MONOTONIC, bpf_ktime_get_ns's clock), cumulative
 * counts, candidates, heap size. The record is written before gc__done
 * fires, on the collecting thread, so gc__done alone gives the whole event:
 * the newest record over the three generations' rings is this collection,
 * and its counts minus the slot before it (the writer copies that slot and
 * adds) are this collection's. gc__start is not attached.
 *
 * Included by gcbpf.bpf.c after gc_exit; uses its helpers (probe_begin, as
 * gc_enter does), not its state machine (no entry, no `active`).
 */
#ifndef GCBPF_RING_BPF_H
#define GCBPF_RING_BPF_H

/* One ring slot. */
struct ring_rec {
	__s64 ts_start;
	__s64 ts_stop;
	struct gen_record g;
};

/* Where slot `back` (0: newest, 1: the one before) of generation gen's ring is in buf. */
static __always_inline int ring_slot_off(const struct gc_layout *l, int gen, const __u8 *buf,
					 int back, __s32 *base)
{
	__s32 idx_off = l->ring_index_off[gen], len = l->ring_len[gen];
	__s8 idx;

	if (idx_off < 0 || idx_off > GC_RING_BYTES - 1 || len <= 0 || len > 127)
		return -1;
	idx = *(const __s8 *)(buf + idx_off);
	if (idx < 0 || idx >= len)
		return -1;
	if (back)
		idx = idx ? idx - 1 : len - 1;
	*base = l->ring_items_off[gen] + idx * l->rec_size;
	return 0;
}

/* Slot `back` of generation gen's ring in buf. */
static __always_inline int ring_rec(const struct gc_layout *l, const __u8 *buf, int gen, int back,
				    struct ring_rec *r)
{
	__s32 base;

	if (gen < 0 || gen > 2 || ring_slot_off(l, gen, buf, back, &base))
		return -1;
	if (rec_field(buf, base, l->rec_ts_start, &r->ts_start) ||
	    rec_field(buf, base, l->rec_ts_stop, &r->ts_stop) ||
	    rec_field(buf, base, l->rec_collections, &r->g.collections) ||
	    rec_field(buf, base, l->rec_collected, &r->g.collected) ||
	    rec_field(buf, base, l->rec_uncollectable, &r->g.uncollectable) ||
	    rec_field(buf, base, l->rec_candidates, &r->g.candidates) ||
	    rec_field(buf, base, l->rec_heap_size, &r->g.heap_size))
		return -1;
	return 0;
}

/*
 * The ring, in one read: a read costs ~100 ns whatever its size (8 bytes or
 * the whole 1120), so reading the seqlock count first, or only the slots
 * needed, costs more than it saves (measured). The copy's count, the ring's
 * last field, is read after every record (x86-64's copy_from_user copies
 * upwards): odd means a writer is at it. At gc__done the only writer of this
 * ring is the collector, this thread, done with it; another writer means the
 * gc__done is not this interpreter's (see ring_seen). Odd: one retry, then
 * -1, counted by the caller as a read error, no event.
 */
static __always_inline int ring_read(const struct gc_layout *l, __u64 addr, __u8 *buf)
{
	__u64 n = (__u32)l->snap_bytes;
	__s32 seq_off = l->ring_seq_off;
	int i;

	asm volatile("" : "+r"(n));
	if (!addr || n > GC_RING_BYTES || seq_off < 0 || seq_off > GC_RING_BYTES - 4 ||
	    seq_off + 4 > n)
		return -1;
	for (i = 0; i < 2; i++) {
		if (bpf_probe_read_user(buf, n, (void *)addr))
			return -1;
		if (!(*(__u32 *)(buf + seq_off) & 1))
			return 0;
	}
	return -1;
}

/*
 * Per process, on its main thread's task: the stop time of the newest record
 * reported, and in which address space. USDT carries no interpreter, so the
 * ring read is the main interpreter's: a gc__done of another interpreter
 * finds a record reported already, and is counted (GC_CNT_RING_STALE), not
 * reported twice. The first report in an address space cannot tell so: it
 * also needs the main interpreter to be collecting now (its `collecting`
 * flag, cleared after gc__done), else the record may predate the attach.
 */
struct ring_seen {
	__u64 ts_stop;
	__u64 mm;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ring_seen);
} ring_seen SEC(".maps");

/* Whether this record is new to the process and this gc__done's (see above). */
static __always_inline bool ring_fresh(struct task_struct *task, const struct gc_layout *l,
				       const struct inflight *st, __u64 ts_stop)
{
	struct ring_seen *seen = bpf_task_storage_get(&ring_seen, task->group_leader, 0,
						      BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 mm = (__u64)task->mm, last;
	__s32 collecting = 0;

	if (!seen)
		return false;
	if (seen->mm != mm) {
		if (l->collecting_off < 0 ||
		    bpf_probe_read_user(&collecting, sizeof(collecting),
					(void *)(st->gcstate + l->collecting_off)) ||
		    !collecting)
			return false;
		seen->mm = mm;
		seen->ts_stop = 0;
	}
	last = seen->ts_stop;
	if (ts_stop <= last)
		return false;
	/* A plain store (a locked cmpxchg costs ~20 ns per collection): two
	 * threads read the same new record at once only in the race that
	 * limitations name (docs/internals.md), which the USDT path cannot tell anyway. */
	seen->ts_stop = ts_stop;
	return true;
}

SEC("uprobe")
int usdt_ring_done(struct pt_regs *ctx)
{
	__u32 idx = bpf_get_attach_cookie(ctx);
	struct task_struct *task = bpf_get_current_task_btf();
	struct ring_rec cur = {}, prev = {}, r = {};
	struct gc_layout *l;
	struct gc_probe *p;
	struct inflight *st;
	struct gc_event *e;
	__u64 pid_tgid, ns;
	__s32 base;
	int gen = -1, g;

	st = probe_begin(ctx, idx, task, &p, &l);
	if (!st || l->stats_kind != GC_STATS_RING)
		return 0;
	if (ring_read(l, st->stats_addr, st->before)) {
		count(GC_CNT_READ_ERRORS);
		return 0;
	}
	/* The newest record of the three rings (stop times are distinct): only
	 * their stop times first, then the whole of that one and the one before. */
	for (g = 0; g < 3; g++) {
		if (ring_slot_off(l, g, st->before, 0, &base) ||
		    rec_field(st->before, base, l->rec_ts_stop, &r.ts_stop)) {
			count(GC_CNT_READ_ERRORS);
			return 0;
		}
		if (gen < 0 || r.ts_stop > cur.ts_stop) {
			gen = g;
			cur.ts_stop = r.ts_stop;
		}
	}
	if (gen < 0 || ring_rec(l, st->before, gen, 0, &cur) ||
	    ring_rec(l, st->before, gen, 1, &prev) || cur.ts_stop < cur.ts_start ||
	    cur.g.collections != prev.g.collections + 1) {
		count(GC_CNT_READ_ERRORS);
		return 0;
	}
	if (!ring_fresh(task, l, st, cur.ts_stop)) {
		count(GC_CNT_RING_STALE);
		return 0;
	}

	if (targ_gen >= 0 && gen != targ_gen)
		return 0;
	pid_tgid = pidns__pid_tgid(NULL);
	if (!pid_tgid)
		return 0;	/* cannot be: wanted() passed */
	ns = cur.ts_stop - cur.ts_start;
	if (targ_aggregate)
		aggregate(pid_tgid >> 32, st->iid, gen, ns, cur.g.collected - prev.g.collected,
			  cur.g.uncollectable - prev.g.uncollectable, cur.g.heap_size, -1);
	if (!targ_events || ns < targ_min_ns)
		return 0;
	stack__capture(st, l, pid_tgid >> 32);	/* after the exit: not part of the pause */
	e = bpf_ringbuf_reserve(&events, sizeof(*e) + stack__bytes(), 0);
	if (!e) {
		count(GC_CNT_LOST);
		return 0;
	}
	e->record = GC_REC_EVENT;
	e->ts_start = cur.ts_start;
	e->ts_stop = cur.ts_stop;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->binary = st->binary;
	e->gen = gen;
	e->reason = -1;
	e->probe = GC_PROBE_USDT;
	e->iid = st->iid;
	e->cgroup_id = current_cgroup_id();
	e->rss = current_rss();
	e->collections = cur.g.collections;
	e->collected = cur.g.collected - prev.g.collected;
	e->uncollectable = cur.g.uncollectable - prev.g.uncollectable;
	e->candidates = cur.g.candidates - prev.g.candidates;
	e->heap_size = cur.g.heap_size;
	e->long_lived_total = -1;
	e->long_lived_pending = -1;
	e->flags = 0;
	process_comm(e->comm);
	stack__fill(st, e);
	submit_event(e);
	return 0;
}

#endif
