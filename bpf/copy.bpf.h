/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One user-memory read per collection (array kind, 3.6-3.13): instead of a
 * snapshot of the statistics at the entry, the exit compares its own read
 * with a copy of what the previous exit of the same interpreter read, kept
 * per process (in the task storage of its main thread: freed with the
 * process, and no second lookup when the main thread collects). Types in
 * copy_types.bpf.h (part of struct inflight); included by gcbpf.bpf.c after
 * struct inflight and the snapshot helpers.
 *
 * The copy explains a collection only when exactly one generation's
 * collection counter moved by one and nothing else of the other generations
 * moved (the interpreter updates a generation's three counters together at
 * the end of a collection), or when the interpreter is brand new (its first
 * collection: every counter zero but that one, now 1; Py_Finalize and
 * Py_Initialize bring the main interpreter back at the same address with the
 * same id and, 3.8+, the counters reset). Otherwise the copy is stale (a
 * collection the probes did not see): the collection is counted
 * (GC_CNT_STALE) and flagged, never reported with wrong counts.
 *
 * The exact path, an entry snapshot as before, is taken whenever there is
 * no trusted copy: the interpreter's first seen collection, a copy holding
 * fewer than two collections (a re-initialised interpreter's first
 * collection could equal it, see copy__trusted), another thread of the
 * interpreter inside a collection (3.13+: its entry probe fires for calls
 * that return without collecting, possibly while the collector runs gc
 * callbacks with the GIL released, after its counters moved but before its
 * exit probe: that thread's exit would otherwise claim the collection), and
 * builds with heap_size (3.14: the gauge is taken at the entry).
 */
#ifndef GCBPF_COPY_BPF_H
#define GCBPF_COPY_BPF_H

enum copy_verdict {
	COPY_ONE,	/* exactly one collection of *gen since the copy (or a new interpreter's first) */
	COPY_NONE,	/* nothing moved: no collection (3.13+ early return) */
	COPY_STALE,	/* the copy does not explain the exit's read */
};

/* The copy is compared word by word: the statistics as 3.6-3.13 lay them out. */
static __always_inline bool copy__usable(const struct gc_layout *l)
{
	return l->stats_kind == GC_STATS_ARRAY && l->snap_heap_size < 0 && l->rec_size == 24 &&
	       l->rec_collections == 0 && l->rec_collected == 8 && l->rec_uncollectable == 16 &&
	       l->snap_bytes >= GC_COPY_WORDS * 8;
}

/* This process's copies: in its main thread's task storage. */
static __always_inline struct proc_copies *copy__proc(struct inflight *st, bool create)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct inflight *leader;

	if (task->pid == task->tgid)
		return &st->copies;
	leader = bpf_task_storage_get(&inflight, task->group_leader, 0,
				      create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	return leader ? &leader->copies : NULL;
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
	pc = copy__proc(st, false);
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
 * Trusted from two collections on: a re-initialised interpreter (same GC
 * state, same id, counters reset) has 1 after its first collection, so a
 * copy of 1 could equal it and hide it.
 */
static __always_inline __u32 copy__trusted(const __s64 *w)
{
	return w[0] + w[3] + w[6] >= 2;
}

/* After a collection measured with an entry read: the exit's read becomes the copy. */
static __always_inline void copy__store(const struct gc_layout *l, struct inflight *st)
{
	const __s64 *a = (const __s64 *)st->after;
	struct proc_copies *pc;
	struct interp_copy *c;
	int i;

	if (!copy__usable(l) || !st->gcstate)
		return;
	pc = copy__proc(st, true);
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
	for (i = 0; i < GC_COPY_WORDS; i++)
		c->w[i] = a[i];
	c->gcstate = st->gcstate;
	c->iid = st->iid;
	c->mm = st->resolved_mm;
	c->trusted = copy__trusted(a);
	c->busy_tid = 0;
}

/* The exit could not read: the copy misses a collection now, so it is not trusted. */
static __always_inline void copy__drop(struct inflight *st)
{
	struct proc_copies *pc = copy__proc(st, false);
	__s8 i = st->copy_slot;

	if (pc && i >= 0 && i < GC_COPY_SLOTS) {
		pc->slot[i].trusted = 0;
		pc->slot[i].busy_tid = 0;
	}
}

static __always_inline void copy__record(const __s64 *w, int g, struct gen_record *r)
{
	r->collections = w[3 * g];
	r->collected = w[3 * g + 1];
	r->uncollectable = w[3 * g + 2];
	r->candidates = r->heap_size = -1;
}

/*
 * At the exit, for a collection whose entry took the copy: the verdict, and
 * for COPY_ONE the generation's records before (the copy, or zeroes for a
 * brand-new interpreter) and after. The exit's read becomes the copy and the
 * copy is released (busy_tid cleared) whatever the verdict. A copy another
 * interpreter took over meanwhile (more than GC_COPY_SLOTS of them) is left
 * to it: stale.
 */
static __always_inline enum copy_verdict copy__exit(struct inflight *st, int *gen,
						    struct gen_record *before,
						    struct gen_record *after)
{
	const __s64 *a = (const __s64 *)st->after;
	struct proc_copies *pc = copy__proc(st, false);
	bool stale = false, fresh = true;
	int i = st->copy_slot, g, moved = -1, ones = -1, n_ones = 0;
	__s64 old[GC_COPY_WORDS];
	struct interp_copy *c;

	if (!pc || i < 0 || i >= GC_COPY_SLOTS)
		return COPY_STALE;
	c = &pc->slot[i];
	if (c->gcstate != st->gcstate || c->iid != st->iid || c->mm != st->resolved_mm)
		return COPY_STALE;
	for (i = 0; i < GC_COPY_WORDS; i++) {
		old[i] = c->w[i];
		c->w[i] = a[i];
	}
	c->busy_tid = 0;
	c->trusted = copy__trusted(a);
	for (g = 0; g < 3; g++) {
		__s64 ac = a[3 * g], bc = old[3 * g];
		bool same = a[3 * g + 1] == old[3 * g + 1] && a[3 * g + 2] == old[3 * g + 2];

		if (ac == bc) {
			stale |= !same;
		} else if (ac == bc + 1 && moved < 0 && a[3 * g + 1] >= old[3 * g + 1] &&
			   a[3 * g + 2] >= old[3 * g + 2]) {
			moved = g;
		} else {
			stale = true;
		}
		if (ac == 1) {
			ones = g;
			n_ones++;
		} else if (ac || a[3 * g + 1] || a[3 * g + 2]) {
			fresh = false;
		}
	}
	if (stale) {
		if (!fresh || n_ones != 1)
			return COPY_STALE;
		/* A new interpreter's first collection: it started from zero. */
		for (i = 0; i < GC_COPY_WORDS; i++)
			old[i] = 0;
		moved = ones;
	}
	if (moved < 0 || moved > 2)
		return COPY_NONE;
	*gen = moved;
	copy__record(old, moved, before);
	copy__record(a, moved, after);
	return COPY_ONE;
}

#endif /* GCBPF_COPY_BPF_H */
