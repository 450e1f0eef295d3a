// SPDX-License-Identifier: GPL-2.0
/*
 * growth: the least-squares fits against numbers computed by hand, "no fit"
 * with too few points or too little spread, the measure each version's
 * events offer, and which collections freed (almost) nothing.
 */
#include <math.h>
#include "check.h"
#include "trace/growth.h"

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1);
}

static struct gc_event ev(int gen, __u64 start, __u64 ns, __s64 collected)
{
	struct gc_event e = { .gen = gen, .ts_start = start, .ts_stop = start + ns,
			      .collected = collected, .uncollectable = 0, .heap_size = -1,
			      .long_lived_total = -1, .long_lived_pending = -1, .candidates = -1 };
	return e;
}

int main(void)
{
	struct lsq l = {};
	struct lsq_fit f;
	struct growth g = {};
	struct gc_event e;
	int i;

	/* y = 3x + 7 exactly, at large x (sums of x*y would cancel) */
	for (i = 0; i < 10; i++)
		lsq__add(&l, 1e9 + i * 1e8, 3 * (1e9 + i * 1e8) + 7);
	lsq__fit(&l, &f);
	CHECK(f.ok && near(f.slope, 3) && fabs(f.intercept - 7) < 1e-3 && near(f.r2, 1),
	      "slope %g intercept %g r2 %g", f.slope, f.intercept, f.r2);
	/* by hand: x 1..5, y 2,4,5,4,5: slope 0.6, intercept 2.2, r2 0.6 */
	l = (struct lsq){};
	{
		static const double y[] = { 2, 4, 5, 4, 5 };

		for (i = 0; i < 5; i++)
			lsq__add(&l, i + 1, y[i]);
	}
	lsq__fit(&l, &f);
	CHECK(f.ok && near(f.slope, 0.6) && near(f.intercept, 2.2) && near(f.r2, 0.6),
	      "slope %g intercept %g r2 %g", f.slope, f.intercept, f.r2);
	/* too few points, then too little spread */
	l = (struct lsq){};
	for (i = 0; i < GROWTH_MIN_POINTS - 1; i++)
		lsq__add(&l, i, i);
	lsq__fit(&l, &f);
	CHECK(!f.ok && f.why && !strcmp(f.why, "too few points"), "%s", f.why);
	l = (struct lsq){};
	for (i = 0; i < 20; i++)
		lsq__add(&l, 1e6 + (i % 2), i);
	lsq__fit(&l, &f);
	CHECK(!f.ok && f.why && !strcmp(f.why, "too little spread"), "%s", f.why);

	/* 3.11: gen 2 fitted against survivors + freed; gen 0 has no measure */
	for (i = 0; i < 6; i++) {
		e = ev(2, 1000000000ULL * (i + 1), 1000 * (i + 1), i == 3 ? 5000 : 0);
		e.long_lived_total = 100000 * (i + 1) - (i == 3 ? 5000 : 0);
		e.long_lived_pending = 0;
		growth__add(&g, &e, NULL);
		e = ev(0, 1000000000ULL * (i + 1) + 10, 50, 0);
		e.long_lived_total = 7;
		e.long_lived_pending = 3;
		growth__add(&g, &e, NULL);
	}
	CHECK_EQ(g.gen[2].measure, GROWTH_LONG_LIVED);
	CHECK_EQ(g.gen[0].measure, GROWTH_NONE);
	CHECK_EQ(g.gen[0].size.n, 0);
	lsq__fit(&g.gen[2].size, &f);
	CHECK(f.ok && near(f.slope, 0.01) && near(f.r2, 1), "slope %g r2 %g", f.slope, f.r2);
	/* 5000 of 400000 is more than 1/1000: not empty; the other five are */
	CHECK_EQ(g.gen[2].empty, 5);
	CHECK_EQ(g.gen[2].events, 6);
	CHECK_EQ(g.gen[0].empty, 6);	/* no measure: freed nothing */
	/* uptime in hours: 1 s apart */
	CHECK(near(g.gen[2].uptime.xmax, 5 / 3600.0), "%g", g.gen[2].uptime.xmax);
	/* 3.15: candidates for every generation, before heap_size */
	e = ev(0, 1, 10, 1);
	e.candidates = 2000;
	e.heap_size = 9999;
	growth__add(&g, &e, NULL);
	CHECK_EQ(g.gen[0].measure, GROWTH_CANDIDATES);
	CHECK(g.gen[0].size.xlast == 2000, "%g", g.gen[0].size.xlast);
	CHECK_EQ(g.gen[0].empty, 7);	/* 1 of 2000 freed: at most 1/1000 */
	/* 3.14: heap_size, full collections only */
	e = ev(1, 2, 10, 0);
	e.heap_size = 500;
	growth__add(&g, &e, NULL);
	CHECK_EQ(g.gen[1].measure, GROWTH_NONE);
	e.gen = 2;
	growth__add(&g, &e, NULL);
	CHECK_EQ(g.gen[2].measure, GROWTH_HEAP_SIZE);
	/* a read error: counted, no point, never empty */
	e = ev(2, 3, 10, -1);
	e.flags = GC_EV_READ_ERROR;
	growth__add(&g, &e, NULL);
	CHECK_EQ(g.gen[2].events, 8);
	CHECK_EQ(g.gen[2].size.n, 7);
	CHECK_EQ(g.gen[2].empty, 6);
	growth__free(&g);
	return check_done();
}
