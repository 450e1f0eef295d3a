// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdlib.h>
#include "python/pystack.h"
#include "trace/growth.h"
#include "trace/stack_agg.h"

#define HOUR_NS 3600e9

void lsq__add(struct lsq *l, double x, double y)
{
	/* Welford: the sums of co-deviations without the cancellation of sum(x*y) */
	double dx = x - l->mx, dy;

	if (!l->n || x < l->xmin)
		l->xmin = x;
	if (!l->n || x > l->xmax)
		l->xmax = x;
	l->n++;
	l->mx += dx / l->n;
	dy = y - l->my;
	l->my += dy / l->n;
	l->cxx += dx * (x - l->mx);
	l->cxy += dx * (y - l->my);
	l->cyy += dy * (y - l->my);
	l->xlast = x;
	l->ylast = y;
}

void lsq__fit(const struct lsq *l, struct lsq_fit *f)
{
	double sd;

	*f = (struct lsq_fit){};
	if (l->n < GROWTH_MIN_POINTS) {
		f->why = "too few points";
		return;
	}
	sd = sqrt(l->cxx / l->n);
	if (l->cxx <= 0 || sd < GROWTH_MIN_SPREAD * fabs(l->mx)) {
		f->why = "too little spread";
		return;
	}
	f->ok = true;
	f->slope = l->cxy / l->cxx;
	f->intercept = l->my - f->slope * l->mx;
	/* constant pauses: the line explains nothing there is to explain */
	f->r2 = l->cyy > 0 ? l->cxy * l->cxy / (l->cxx * l->cyy) : 0;
}

const char *growth__measure_name(enum growth_measure m)
{
	static const char *const names[] = { NULL, "candidates", "heap_size",
					     "long_lived_total+long_lived_pending+freed" };

	return names[m];
}

const char *growth__measure_words(enum growth_measure m)
{
	static const char *const words[] = {
		NULL,
		"objects examined (candidates)",
		"tracked objects (heap_size at the start)",
		"long-lived objects (long_lived_total + long_lived_pending after it, "
		"plus what it freed)",
	};

	return words[m];
}

/* The objects the collection examined, as well as the version says; -1: it does not. */
static double examined(const struct gc_event *e, enum growth_measure *m)
{
	*m = GROWTH_NONE;
	if (e->flags & GC_EV_READ_ERROR)
		return -1;
	if (e->candidates >= 0) {
		*m = GROWTH_CANDIDATES;
		return e->candidates;
	}
	/* before 3.15 only a full collection examines the whole heap these count */
	if (e->gen != 2)
		return -1;
	if (e->heap_size >= 0) {
		*m = GROWTH_HEAP_SIZE;
		return e->heap_size;
	}
	if (e->long_lived_total >= 0 && e->long_lived_pending >= 0 && e->collected >= 0) {
		/* read after it: the survivors; what it examined is them and what it freed */
		*m = GROWTH_LONG_LIVED;
		return (double)e->long_lived_total + e->long_lived_pending + e->collected +
		       (e->uncollectable > 0 ? e->uncollectable : 0);
	}
	return -1;
}

void growth__add(struct growth *g, const struct gc_event *e, const struct py_stack *st)
{
	struct growth_gen *gg;
	enum growth_measure m;
	__u64 ns = e->ts_stop - e->ts_start;
	double x;
	bool empty;

	if (e->gen < 0 || e->gen > 2 || e->ts_stop < e->ts_start)
		return;
	gg = &g->gen[e->gen];
	if (!g->first_ns || e->ts_start < g->first_ns)
		g->first_ns = e->ts_start;
	gg->events++;
	gg->sum_ns += ns;
	lsq__add(&gg->uptime, (e->ts_start - g->first_ns) / HOUR_NS, ns);
	x = examined(e, &m);
	if (x >= 0) {
		gg->measure = m;
		lsq__add(&gg->size, x, ns);
	}
	if (e->collected < 0)
		return;
	if (x >= 0)
		empty = (double)(e->collected + (e->uncollectable > 0 ? e->uncollectable : 0)) *
				GROWTH_EMPTY_FRACTION <= x;
	else
		empty = !e->collected && e->uncollectable <= 0;
	if (!empty)
		return;
	gg->empty++;
	gg->empty_ns += ns;
	if (!st)
		return;
	if (!g->empty_sites) {
		g->empty_sites = calloc(1, sizeof(*g->empty_sites));
		if (!g->empty_sites)
			return;
		stack_agg__init(g->empty_sites, false);
	}
	stack_agg__add(g->empty_sites, st, e->gen, ns);
}

void growth__free(struct growth *g)
{
	if (g->empty_sites) {
		stack_agg__free(g->empty_sites);
		free(g->empty_sites);
		g->empty_sites = NULL;
	}
}
