/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's log-linear pause histograms (bpf/hist.h) as user space reads
 * them: percentiles, merges, interval differences, log2 folding and the
 * bpftrace-style printer. Pure functions: no BPF, no I/O but the printer.
 */
#ifndef GCBPF_HDR_H
#define GCBPF_HDR_H

#include <stdio.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "hist.h"

/* log2 slots: 0 = [0], 1 = [1], k >= 2 = [2^(k-1), 2^k). */
#define HDR_LOG2_SLOTS 66

/* Counts one pause, as the BPF side does (tests, and events-only paths). */
void hdr__add(struct gc_hist *h, __u64 ns, __s64 collected, __s64 uncollectable);
/* dst += src. */
void hdr__merge(struct gc_hist *dst, const struct gc_hist *src);
/*
 * out = now - prev: the pauses of an interval. out->max_ns is bounded by the
 * highest bucket that moved (exact when that bucket holds now->max_ns).
 */
void hdr__sub(struct gc_hist *out, const struct gc_hist *now, const struct gc_hist *prev);
/*
 * The q-quantile (0 < q <= 1) in ns by nearest rank (rank = ceil(q * count)):
 * the midpoint of the bucket holding that rank, at most max_ns. Relative error
 * <= 1/256 of the value; exact below 128 ns. 0 when the histogram is empty.
 */
__u64 hdr__percentile(const struct gc_hist *h, double q);
/* Pauses <= ns (exact at bucket edges; within one bucket's width otherwise). */
__u64 hdr__count_le(const struct gc_hist *h, __u64 ns);
/* Folds the buckets into log2 slots of ns; exact (no bucket straddles a power of 2). */
void hdr__log2(const struct gc_hist *h, __u64 slots[HDR_LOG2_SLOTS]);
/*
 * bpftrace's hist() layout: "[lo, hi)  count |@@@ |", 52-column bars, K/M/G
 * suffixes, from the first to the last non-empty slot.
 */
void hdr__print_log2(FILE *f, const __u64 slots[HDR_LOG2_SLOTS]);

#endif
