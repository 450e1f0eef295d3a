/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One user-memory read per collection (array kind, 3.6-3.13): instead of a
 * snapshot of the statistics at the entry, the exit compares its own read
 * with a copy of what the previous exit of the same interpreter read, kept
 * per process (task storage of its main thread: freed with the process).
 * Included by gcbpf.bpf.c after struct inflight and the snapshot helpers.
 *
 * The copy explains a collection only when exactly one generation's
 * collection counter moved by one and nothing else of the other generations
 * moved (the interpreter updates a generation's three counters together at
 * the end of a collection), or when the interpreter is brand new (its first
 * collection: every counter zero but that one, now 1). Otherwise the copy is
 * stale (a collection the probes did not see, an interpreter re-created at
 * the same address with the same id): the collection is counted
 * (GC_CNT_STALE) and flagged, never reported with wrong counts.
 *
 * The exact path, an entry snapshot as before, is taken whenever there is
 * no trusted copy: the interpreter's first seen collection, a copy holding
 * fewer than two collections (a re-initialised interpreter's first
 * collection could equal it, see copy__store), another thread of the
 * interpreter inside a collection (3.13+: its entry probe fires for calls
 * that return without collecting, possibly while the collector runs gc
 * callbacks with the GIL released, after its counters moved but before its
 * exit probe: that thread's exit would otherwise claim the collection), and
 * builds with heap_size (3.14: the gauge is taken at the entry).
 */
#ifndef GCBPF_COPY_BPF_H
#define GCBPF_COPY_BPF_H

#define GC_COPY_SLOTS 4		/* interpreters per process with a copy; more take turns */

struct interp_copy {
	__u8 snap[GC_SNAP_BYTES];	/* the statistics at the last exit */
	__u64 gcstate;		/* which interpreter: GC state, id, address space */
	__s64 iid;
	__u64 mm;
	__u32 busy_tid;		/* a thread between entry and exit that uses this copy, 0: none */
	__u32 trusted;		/* snap holds >= 2 collections */
};

struct proc_copies {
	struct interp_copy slot[GC_COPY_SLOTS];
	__u32 next;		/* slot to reuse when all are taken */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct proc_copies);
} copies SEC(".maps");

enum copy_verdict {
	COPY_ONE,	/* exactly one collection of *gen since the copy (or a new interpreter's first) */
	COPY_NONE,	/* nothing moved: no collection (3.13+ early return) */
	COPY_STALE,	/* the copy does not explain the exit's read */
};

static __always_inline bool copy__usable(const struct gc_layout *l)
{
	return l->stats_kind == GC_STATS_ARRAY && l->snap_heap_size < 0;
}

static __always_inline struct proc_copies *copy__proc(bool create)
{
	return bpf_task_storage_get(&copies, bpf_get_current_task_btf()->group_leader, 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The slot of this thread's interpreter, -1 if none. */
static __always_inline int copy__find(const struct proc_copies *pc, const struct inflight *st)
{
	int i;

	for (i = 0; i < GC_COPY_SLOTS; i++)
		if (pc->slot[i].gcstate == st->gcstate && pc->slot[i].iid == st->iid &&
		    pc->slot[i].mm == st->resolved_mm)
			return i;
	return -1;
}

/* At the entry: true if the exit may use the copy (and no entry read is needed). */
static __always_inline bool copy__enter(const struct gc_layout *l, struct inflight *st, __u32 tid)
{
	struct proc_copies *pc;
	int i;

	st->use_copy = 0;
	if (!copy__usable(l) || !st->gcstate)
		return false;
	pc = copy__proc(false);
	if (!pc)
		return false;
	i = copy__find(pc, st);
	if (i < 0 || i >= GC_COPY_SLOTS || !pc->slot[i].trusted || pc->slot[i].busy_tid)
		return false;
	pc->slot[i].busy_tid = tid;
	st->use_copy = 1;
	st->copy_slot = i;
	return true;
}

/*
 * After a collection (copy or snapshot path): the exit's read becomes the
 * copy. Trusted from two collections on: a re-initialised interpreter (same
 * GC state, same id, counters reset) has 1 after its first collection, so a
 * copy of 1 could equal it and hide it.
 */
static __always_inline void copy__store(const struct gc_layout *l, struct inflight *st)
{
	struct proc_copies *pc;
	struct interp_copy *c;
	struct gen_record r;
	__s64 sum = 0;
	int i, g;

	if (!copy__usable(l) || !st->gcstate)
		return;
	pc = copy__proc(true);
	if (!pc)
		return;
	i = copy__find(pc, st);
	if (i < 0) {
		i = pc->next % GC_COPY_SLOTS;
		pc->next = i + 1;
	}
	if (i < 0 || i >= GC_COPY_SLOTS)
		return;
	c = &pc->slot[i];
	for (g = 0; g < GC_SNAP_BYTES / 8; g++)
		((__u64 *)c->snap)[g] = ((const __u64 *)st->after)[g];
	for (g = 0; g < 3; g++)
		if (!snap_gen(l, st->after, g, &r))
			sum += r.collections;
	c->gcstate = st->gcstate;
	c->iid = st->iid;
	c->mm = st->resolved_mm;
	c->trusted = sum >= 2;
	c->busy_tid = 0;
}

/* The exit could not read: the copy misses a collection now, so it is not trusted. */
static __always_inline void copy__drop(const struct inflight *st)
{
	struct proc_copies *pc = copy__proc(false);
	__s8 i = st->copy_slot;

	if (pc && i >= 0 && i < GC_COPY_SLOTS) {
		pc->slot[i].trusted = 0;
		pc->slot[i].busy_tid = 0;
	}
}

/*
 * At the exit, for a collection whose entry took the copy: the copy becomes
 * st->before (zeroed for a brand-new interpreter), the exit's read the copy,
 * and the verdict says what happened. The copy is released (busy_tid
 * cleared) here. A copy another interpreter took over meanwhile (more than
 * GC_COPY_SLOTS of them) is left to it: stale.
 */
static __always_inline enum copy_verdict copy__exit(const struct gc_layout *l, struct inflight *st,
						    int *gen)
{
	struct proc_copies *pc = copy__proc(false);
	struct gen_record b, a;
	bool stale = false, fresh = true;
	int i = st->copy_slot, moved = -1, ones = -1, n_ones = 0;
	__s64 sum = 0;
	struct interp_copy *c;

	if (!pc || i < 0 || i >= GC_COPY_SLOTS)
		return COPY_STALE;
	c = &pc->slot[i];
	if (c->gcstate != st->gcstate || c->iid != st->iid || c->mm != st->resolved_mm)
		return COPY_STALE;
	c->busy_tid = 0;
	for (i = 0; i < GC_SNAP_BYTES / 8; i++) {
		((__u64 *)st->before)[i] = ((const __u64 *)c->snap)[i];
		/* The next collection compares with this read, whatever the verdict. */
		((__u64 *)c->snap)[i] = ((const __u64 *)st->after)[i];
	}
	for (i = 0; i < 3; i++) {
		if (snap_gen(l, st->before, i, &b) || snap_gen(l, st->after, i, &a))
			return COPY_STALE;
		if (a.collections == b.collections) {
			if (a.collected != b.collected || a.uncollectable != b.uncollectable)
				stale = true;
		} else if (a.collections == b.collections + 1 && moved < 0 &&
			   a.collected >= b.collected && a.uncollectable >= b.uncollectable) {
			moved = i;
		} else {
			stale = true;
		}
		sum += a.collections;
		if (a.collections == 1) {
			ones = i;
			n_ones++;
		} else if (a.collections || a.collected || a.uncollectable) {
			fresh = false;
		}
	}
	/* From two collections on, as in copy__store. */
	c->trusted = sum >= 2;
	if (!stale) {
		*gen = moved;
		return moved < 0 ? COPY_NONE : COPY_ONE;
	}
	if (!fresh || n_ones != 1)
		return COPY_STALE;
	/* A new interpreter's first collection: it started from zero. */
	for (i = 0; i < GC_SNAP_BYTES / 8; i++)
		((__u64 *)st->before)[i] = 0;
	*gen = ones;
	return COPY_ONE;
}

#endif /* GCBPF_COPY_BPF_H */
