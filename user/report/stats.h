/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The statistics of gcbpf compare: confidence intervals that assume nothing
 * of the pauses' distribution (heavy-tailed: no normal, no t-test).
 *  - quantiles: the bootstrap percentile interval of the difference. A
 *    resample's k-th order statistic is drawn directly (the k-th of n
 *    uniforms is Beta(k, n-k+1), mapped through the sorted sample): the
 *    same distribution as resampling n values, in O(1) per resample;
 *  - the median shift: Hodges-Lehmann (median of every after-before
 *    difference) with its Mann-Whitney rank interval (Moses);
 *  - rates: collections as Poisson counts, the rate ratio's interval from
 *    the conditional binomial (Wilson score);
 *  - the GC share: a block bootstrap over time windows.
 * A fixed-seed generator (splitmix64): the same inputs give the same output.
 */
#ifndef GCBPF_STATS_H
#define GCBPF_STATS_H

#include <stddef.h>
#include <linux/types.h>

#define STATS_Z95 1.959963984540054

struct stats_rng {
	__u64 s;
};

void stats__seed(struct stats_rng *r, __u64 seed);
/* Uniform in (0, 1). */
double stats__uniform(struct stats_rng *r);

/* The q-quantile by nearest rank (rank ceil(q n)), as the pause table's; x sorted, n > 0. */
__u64 stats__quantile(const __u64 *x, size_t n, double q);

/*
 * The 95% bootstrap percentile interval of quantile_q(b) - quantile_q(a)
 * (a, b sorted, non-empty), B resamples.
 */
void stats__quantile_diff_ci(const __u64 *a, size_t na, const __u64 *b, size_t nb, double q,
			     int resamples, struct stats_rng *r, double *lo, double *hi);

/*
 * Hodges-Lehmann: the median of b_j - a_i over every pair, and its 95%
 * interval from the Mann-Whitney statistic's distribution (normal
 * approximation of the rank statistic, not of the data). a, b sorted.
 */
void stats__hodges_lehmann(const __u64 *a, size_t na, const __u64 *b, size_t nb, double *est,
			   double *lo, double *hi);

/*
 * (nb / tb) / (na / ta) and its 95% interval, the counts taken as Poisson
 * (regular collections vary less than Poisson: the interval is then
 * conservative). hi is INFINITY when na is 0.
 */
void stats__rate_ratio(__u64 na, double ta, __u64 nb, double tb, double *est, double *lo,
		       double *hi);

/*
 * The 95% interval of share(b) - share(a), share = sum of pauses / wall: the
 * pauses summed per time window (k of them), the windows resampled (a block
 * bootstrap: a burst, a preempted collection, stays in its window, so a few
 * outliers that make the sum widen the interval as they should).
 */
void stats__share_diff_ci(const __u64 *a, double ta, const __u64 *b, double tb, int k,
			  int resamples, struct stats_rng *r, double *lo, double *hi);

#endif
