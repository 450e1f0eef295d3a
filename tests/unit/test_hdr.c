// SPDX-License-Identifier: GPL-2.0
/* hdr: percentiles against exact ones, log2 folding, bpftrace layout, interval diffs. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "trace/hdr.h"

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	static struct gc_hist h, h2, d;
	static __u64 v[20000];
	__u64 slots[HDR_LOG2_SLOTS], s2[HDR_LOG2_SLOTS] = { 0 };
	static const double qs[] = { 0.5, 0.9, 0.95, 0.99, 1.0 };
	unsigned int seed = 42;
	int i, n = 20000, q, worst_ok = 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	/* Log-uniform pauses from 1 ns to ~1 s: every percentile within 1%. */
	for (i = 0; i < n; i++) {
		double e = (double)rand_r(&seed) / RAND_MAX * 30;

		v[i] = (__u64)__builtin_exp2(e);
		hdr__add(&h, v[i], 1, 0);
	}
	qsort(v, n, sizeof(v[0]), cmp_u64);
	for (q = 0; q < 5; q++) {
		__u64 rank = (__u64)__builtin_ceil(qs[q] * n), exact = v[rank - 1];
		__u64 got = hdr__percentile(&h, qs[q]);
		double err = got > exact ? got - exact : exact - got;

		worst_ok &= CHECK(err <= exact / 256.0 + 0.5, "q=%.2f got %llu exact %llu", qs[q],
				  (unsigned long long)got, (unsigned long long)exact);
	}
	CHECK_EQ(hdr__percentile(&h, 1.0), v[n - 1]);
	CHECK_EQ(h.count, n);
	CHECK_EQ(h.collected, n);
	CHECK_EQ(h.max_ns, v[n - 1]);

	/* Exact below 128 ns. */
	memset(&h2, 0, sizeof(h2));
	for (i = 1; i <= 100; i++)
		hdr__add(&h2, i, 0, 0);
	CHECK_EQ(hdr__percentile(&h2, 0.5), 50);
	CHECK_EQ(hdr__percentile(&h2, 0.99), 99);
	CHECK_EQ(hdr__percentile(&h2, 0.01), 1);

	/* log2 folding is exact: compare with direct slotting. */
	hdr__log2(&h, slots);
	for (i = 0; i < n; i++)
		s2[v[i] ? 64 - __builtin_clzll(v[i]) : 0]++;
	CHECK(!memcmp(slots, s2, sizeof(slots)), "log2 slots differ from direct counting");

	/* count_le exact at powers of ten used by Prometheus buckets? at bucket edges. */
	CHECK_EQ(hdr__count_le(&h2, 50), 50);
	CHECK_EQ(hdr__count_le(&h2, 1000), 100);
	CHECK_EQ(hdr__count_le(&h2, 0), 0);

	/* Interval: now - prev. */
	memcpy(&d, &h2, sizeof(d));
	hdr__add(&d, 5000, 3, 1);
	hdr__add(&d, 7, 0, 0);
	{
		static struct gc_hist out;

		hdr__sub(&out, &d, &h2);
		CHECK_EQ(out.count, 2);
		CHECK_EQ(out.sum_ns, 5007);
		CHECK_EQ(out.collected, 3);
		CHECK_EQ(out.uncollectable, 1);
		CHECK_EQ(out.max_ns, 5000);
		CHECK_EQ(hdr__percentile(&out, 0.5), 7);
	}

	/* bpftrace's layout, golden. */
	memset(&h2, 0, sizeof(h2));
	hdr__add(&h2, 0, 0, 0);
	hdr__add(&h2, 1, 0, 0);
	for (i = 0; i < 4; i++)
		hdr__add(&h2, 1500, 0, 0);
	hdr__add(&h2, 3 << 20, 0, 0);
	hdr__log2(&h2, slots);
	f = open_memstream(&buf, &len);
	hdr__print_log2(f, slots);
	fclose(f);
	CHECK(strstr(buf, "[0]                    1 |@@@@@@@@@@@@@                                       |\n")
	      == buf, "first row:\n%s", buf);
	CHECK(strstr(buf, "[1K, 2K)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"),
	      "1K row:\n%s", buf);
	CHECK(strstr(buf, "[2M, 4M)               1 |"), "2M row:\n%s", buf);
	CHECK(strstr(buf, "[1M, 2M)               0 |                                                    |\n"),
	      "empty row kept:\n%s", buf);
	free(buf);
	return check_done();
}
