// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdlib.h>
#include "report/stats.h"

void stats__seed(struct stats_rng *r, __u64 seed)
{
	r->s = seed;
}

static __u64 next(struct stats_rng *r)
{
	__u64 z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double stats__uniform(struct stats_rng *r)
{
	return ((next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(struct stats_rng *r)
{
	return sqrt(-2 * log(stats__uniform(r))) * cos(2 * M_PI * stats__uniform(r));
}

/* Gamma(k, 1), k >= 1: Marsaglia and Tsang. */
static double gamma_draw(struct stats_rng *r, double k)
{
	double d = k - 1.0 / 3, c = 1 / sqrt(9 * d), x, v, u;

	for (;;) {
		do {
			x = normal(r);
			v = 1 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = stats__uniform(r);
		if (u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)))
			return d * v;
	}
}

__u64 stats__quantile(const __u64 *x, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * n - 1e-9);

	return x[rank ? rank - 1 : 0];
}

/* A resample's k-th smallest (k = its nearest rank for q): Beta(k, n-k+1) through x. */
static double resampled_quantile(const __u64 *x, size_t n, double q, struct stats_rng *r)
{
	size_t k = (size_t)ceil(q * n - 1e-9), i;
	double g1, g2, u;

	if (!k)
		k = 1;
	g1 = gamma_draw(r, k);
	g2 = gamma_draw(r, n - k + 1);
	u = g1 / (g1 + g2);
	/* the k-th of n uniforms is u; the empirical quantile function maps it to x */
	i = (size_t)ceil(u * n);
	return x[i ? (i > n ? n : i) - 1 : 0];
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* The 2.5% and 97.5% points of d[n] (sorted in place). */
static void percentile_interval(double *d, int n, double *lo, double *hi)
{
	qsort(d, n, sizeof(*d), cmp_double);
	*lo = d[(int)floor(0.025 * (n - 1))];
	*hi = d[(int)ceil(0.975 * (n - 1))];
}

void stats__quantile_diff_ci(const __u64 *a, size_t na, const __u64 *b, size_t nb, double q,
			     int resamples, struct stats_rng *r, double *lo, double *hi)
{
	double *d = malloc(resamples * sizeof(*d));
	int i;

	if (!d) {
		*lo = -INFINITY;
		*hi = INFINITY;
		return;
	}
	for (i = 0; i < resamples; i++)
		d[i] = resampled_quantile(b, nb, q, r) - resampled_quantile(a, na, q, r);
	percentile_interval(d, resamples, lo, hi);
	free(d);
}

/* Pairs (i, j) with b_j - a_i <= d: for each b_j, the a_i >= b_j - d (two pointers). */
static unsigned __int128 pairs_le(const __u64 *a, size_t na, const __u64 *b, size_t nb, __s64 d)
{
	unsigned __int128 count = 0;
	size_t i = 0, j;

	for (j = 0; j < nb; j++) {
		__s64 t = (__s64)b[j] - d;	/* a_i >= t counts */

		while (i < na && (__s64)a[i] < t)
			i++;
		count += na - i;
	}
	return count;
}

/* The k-th smallest (1-based) of b_j - a_i: the least d with at least k pairs <= d. */
static __s64 kth_difference(const __u64 *a, size_t na, const __u64 *b, size_t nb,
			    unsigned __int128 k)
{
	__s64 lo = (__s64)b[0] - (__s64)a[na - 1], hi = (__s64)b[nb - 1] - (__s64)a[0];

	while (lo < hi) {
		__s64 mid = lo + (hi - lo) / 2;

		if (pairs_le(a, na, b, nb, mid) >= k)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void stats__hodges_lehmann(const __u64 *a, size_t na, const __u64 *b, size_t nb, double *est,
			   double *lo, double *hi)
{
	unsigned __int128 n = (unsigned __int128)na * nb;
	double m = (double)na * nb, c;
	unsigned __int128 k;

	*est = kth_difference(a, na, b, nb, (n + 1) / 2);
	if (!(n & 1))
		*est = (*est + kth_difference(a, na, b, nb, n / 2 + 1)) / 2;
	/* Moses: the C-th smallest and largest differences, C from U's null distribution */
	c = floor(m / 2 - STATS_Z95 * sqrt(m * (na + nb + 1) / 12));
	k = c < 1 ? 1 : (unsigned __int128)c;
	*lo = c < 1 ? -INFINITY : kth_difference(a, na, b, nb, k);
	*hi = c < 1 ? INFINITY : kth_difference(a, na, b, nb, n - k + 1);
}

void stats__rate_ratio(__u64 na, double ta, __u64 nb, double tb, double *est, double *lo,
		       double *hi)
{
	double n = (double)na + nb, p = nb / n, z = STATS_Z95, z2 = z * z;
	double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
	double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
	double pl = centre - half, ph = centre + half;

	/* given na + nb, nb is binomial with p = rb tb / (ra ta + rb tb) */
	*est = na ? (nb / tb) / (na / ta) : INFINITY;
	*lo = pl <= 0 ? 0 : pl / (1 - pl) * ta / tb;
	*hi = ph >= 1 ? INFINITY : ph / (1 - ph) * ta / tb;
}

static double resampled_share(const __u64 *x, int k, double t, struct stats_rng *r)
{
	double sum = 0;
	int i;

	for (i = 0; i < k; i++)
		sum += x[(int)(stats__uniform(r) * k)];
	return sum / t;
}

void stats__share_diff_ci(const __u64 *a, double ta, const __u64 *b, double tb, int k,
			  int resamples, struct stats_rng *r, double *lo, double *hi)
{
	double *d = malloc(resamples * sizeof(*d));
	int i;

	if (!d) {
		*lo = -INFINITY;
		*hi = INFINITY;
		return;
	}
	for (i = 0; i < resamples; i++)
		d[i] = resampled_share(b, k, tb, r) - resampled_share(a, k, ta, r);
	percentile_interval(d, resamples, lo, hi);
	free(d);
}
