/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log-linear (HDR-style) pause histogram, shared by the BPF side, which
 * counts every pause into it, and user space, which turns it into
 * percentiles and log2 histograms. No includes: see gcbpf.h.
 *
 * Values below 2^GC_HIST_SUB_BITS ns get a bucket each; above, every power
 * of two is split into 2^GC_HIST_SUB_BITS equal buckets, so a bucket is at
 * most 1/128 of its values wide: a percentile read at a bucket's midpoint
 * is within 0.4% of the exact one. Memory is constant however long the run.
 */
#ifndef GCBPF_HIST_H
#define GCBPF_HIST_H

#define GC_HIST_SUB_BITS 7
#define GC_HIST_SUB (1 << GC_HIST_SUB_BITS)
#define GC_HIST_MAX_LOG2 40	/* 2^40 ns = 18 minutes; longer pauses share the last bucket */
#define GC_HIST_BUCKETS ((GC_HIST_MAX_LOG2 - GC_HIST_SUB_BITS + 1) * GC_HIST_SUB)

/*
 * Per interpreter (3.9+; -1 where the GC is process-global or the id is
 * unknown): one interpreter's collections end one at a time (its
 * `collecting` flag and its GIL), so the kernel updates an entry without
 * atomics. The loader merges a process's interpreters (trace/tracer_counts.c).
 */
struct gc_hist_key {
	__u32 pid;
	__u32 gen;
	__s64 iid;
};

/* Every pause of one process and generation. */
struct gc_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u64 collected;
	__u64 uncollectable;
	/* What an event would have said, for modes that push no events: the
	 * last collection's gauges (-1 unknown), the process's name when the
	 * entry was made. */
	__s64 heap_size;
	__s64 long_lived_total;
	__s64 rss;		/* bytes */
	char comm[GCBPF_COMM_LEN];
	__u32 named;		/* comm and the gauges were set (by the BPF side) */
	__u32 buckets[GC_HIST_BUCKETS];
};

/* floor(log2(v)) for v > 0, without loops (the verifier's friend). */
static inline __u32 gc_hist_log2(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static inline __u32 gc_hist_bucket(__u64 ns)
{
	__u32 k, idx;

	if (ns < GC_HIST_SUB)
		return ns;
	k = gc_hist_log2(ns);
	if (k > GC_HIST_MAX_LOG2)
		return GC_HIST_BUCKETS - 1;
	idx = (k - GC_HIST_SUB_BITS + 1) * GC_HIST_SUB +
	      (__u32)((ns >> (k - GC_HIST_SUB_BITS)) - GC_HIST_SUB);
	return idx < GC_HIST_BUCKETS ? idx : GC_HIST_BUCKETS - 1;
}

/* Smallest value of bucket idx; the bucket holds [lo(idx), lo(idx + 1)). */
static inline __u64 gc_hist_bucket_lo(__u32 idx)
{
	__u32 octave, sub;

	if (idx < GC_HIST_SUB)
		return idx;
	octave = idx / GC_HIST_SUB - 1 + GC_HIST_SUB_BITS;
	sub = idx % GC_HIST_SUB;
	return ((__u64)GC_HIST_SUB + sub) << (octave - GC_HIST_SUB_BITS);
}

#endif /* GCBPF_HIST_H */
