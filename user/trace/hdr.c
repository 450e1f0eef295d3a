// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <string.h>
#include "trace/hdr.h"

void hdr__add(struct gc_hist *h, __u64 ns, __s64 collected, __s64 uncollectable)
{
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	if (collected > 0)
		h->collected += collected;
	if (uncollectable > 0)
		h->uncollectable += uncollectable;
	h->buckets[gc_hist_bucket(ns)]++;
}

void hdr__merge(struct gc_hist *dst, const struct gc_hist *src)
{
	int i;

	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	dst->collected += src->collected;
	dst->uncollectable += src->uncollectable;
	for (i = 0; i < GC_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

/* One past the largest value bucket i holds. */
static __u64 bucket_end(__u32 i)
{
	return i + 1 < GC_HIST_BUCKETS ? gc_hist_bucket_lo(i + 1) : ~0ULL;
}

void hdr__sub(struct gc_hist *out, const struct gc_hist *now, const struct gc_hist *prev)
{
	int i, top = -1;

	out->count = now->count - prev->count;
	out->sum_ns = now->sum_ns - prev->sum_ns;
	out->collected = now->collected - prev->collected;
	out->uncollectable = now->uncollectable - prev->uncollectable;
	for (i = 0; i < GC_HIST_BUCKETS; i++) {
		out->buckets[i] = now->buckets[i] - prev->buckets[i];
		if (out->buckets[i])
			top = i;
	}
	out->max_ns = 0;
	if (top >= 0) {
		__u64 end = bucket_end(top) - 1;

		out->max_ns = now->max_ns < end ? now->max_ns : end;
	}
}

__u64 hdr__percentile(const struct gc_hist *h, double q)
{
	__u64 rank, seen = 0, lo, hi, mid;
	__u32 i;

	if (!h->count)
		return 0;
	rank = (__u64)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank >= h->count)
		return h->max_ns;	/* the largest pause: known exactly */
	for (i = 0; i < GC_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	if (i == GC_HIST_BUCKETS)
		return h->max_ns;	/* buckets and count disagree (read mid-update) */
	lo = gc_hist_bucket_lo(i);
	if (i < GC_HIST_SUB)
		return lo;	/* one value per bucket: exact */
	hi = bucket_end(i);
	mid = lo + (hi - lo) / 2;
	return mid < h->max_ns ? mid : h->max_ns;
}

__u64 hdr__count_le(const struct gc_hist *h, __u64 ns)
{
	__u64 n = 0;
	__u32 i;

	/* A bucket counts when its midpoint is <= ns (exact where ns ends a bucket). */
	for (i = 0; i < GC_HIST_BUCKETS; i++) {
		__u64 lo = gc_hist_bucket_lo(i), end = bucket_end(i);

		if (lo > ns)
			break;
		if (end - 1 <= ns || lo + (end - lo) / 2 <= ns)
			n += h->buckets[i];
	}
	return n;
}

static int log2_slot(__u64 v)
{
	return v ? (int)gc_hist_log2(v) + 1 : 0;
}

void hdr__log2(const struct gc_hist *h, __u64 slots[HDR_LOG2_SLOTS])
{
	__u32 i;

	memset(slots, 0, HDR_LOG2_SLOTS * sizeof(slots[0]));
	for (i = 0; i < GC_HIST_BUCKETS; i++)
		if (h->buckets[i])
			slots[log2_slot(gc_hist_bucket_lo(i))] += h->buckets[i];
}

/* bpftrace's hist_index_label: 2^power with a K/M/G/T suffix. */
static void index_label(char *buf, size_t len, int power)
{
	static const char suffix[] = " KMGTP";
	int s = power / 10;

	if (s > 5)
		s = 5;
	if (s)
		snprintf(buf, len, "%llu%c", 1ULL << (power - 10 * s), suffix[s]);
	else
		snprintf(buf, len, "%llu", 1ULL << power);
}

void hdr__print_log2(FILE *f, const __u64 slots[HDR_LOG2_SLOTS])
{
	int i, first = -1, last = -1;
	__u64 max = 0;
	char bar[53], lo[16], hi[16], head[40];

	for (i = 0; i < HDR_LOG2_SLOTS; i++) {
		if (!slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	for (i = first; first >= 0 && i <= last; i++) {
		int w = (int)(slots[i] * 52 / max);

		if (i == 0) {
			snprintf(head, sizeof(head), "[0]");
		} else if (i == 1) {
			snprintf(head, sizeof(head), "[1]");
		} else {
			index_label(lo, sizeof(lo), i - 1);
			index_label(hi, sizeof(hi), i);
			snprintf(head, sizeof(head), "[%s, %s)", lo, hi);
		}
		memset(bar, '@', w);
		bar[w] = 0;
		fprintf(f, "%-16s%8llu |%-52s|\n", head, (unsigned long long)slots[i], bar);
	}
}
