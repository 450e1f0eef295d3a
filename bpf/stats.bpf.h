/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interpreter's GC statistics: where a thread's are (resolve_gcstate),
 * one read of them (read_snapshot: an array of three generation_stats, or
 * 3.15's ring) and one generation's cumulative counters in a read
 * (snap_gen). Included by gcbpf.bpf.c after struct inflight, before
 * copy.bpf.h and ring.bpf.h, which compare such reads.
 */
#ifndef GCBPF_STATS_BPF_H
#define GCBPF_STATS_BPF_H

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

#endif /* GCBPF_STATS_BPF_H */
