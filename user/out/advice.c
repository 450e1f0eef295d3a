// SPDX-License-Identifier: GPL-2.0
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "out/advice.h"
#include "trace/hdr.h"
#include "util/text.h"

const char *advice__name(enum advice_kind kind)
{
	static const char *const names[] = { "gc-share", "gen2-pauses", "gen0-empty",
					     "uncollectable", "pause-growth", "pause-trend",
					     "empty-collections" };

	return names[kind];
}

void advice__add(struct advice *a, enum advice_kind kind, const char *fmt, ...)
{
	struct advice_item *items = realloc(a->items, (a->nr + 1) * sizeof(*items));
	va_list ap;

	if (!items)
		return;
	a->items = items;
	items[a->nr].kind = kind;
	va_start(ap, fmt);
	vsnprintf(items[a->nr].text, sizeof(items[a->nr].text), fmt, ap);
	va_end(ap);
	a->nr++;
}

/*
 * Idle gen-0 churn, with the thresholds read from the process (gc_config.h):
 * raising gen 0's is the advice while automatic collection runs; with it off,
 * the collections are the program's own gc.collect() calls.
 */
static void gen0_empty(struct advice *a, const struct gc_config *c, const struct gen_totals *g0,
		       __u64 run_ns)
{
	const int *th = c->threshold;
	char what[224];
	long long raised = th[0] > 0 ? 10LL * th[0] : 0;

	snprintf(what, sizeof(what), "%llu gen-0 collections (%.0f/s) freed %llu objects in all "
		 "(%.2f each)", (unsigned long long)g0->count, g0->count * 1e9 / run_ns,
		 (unsigned long long)g0->collected, (double)g0->collected / g0->count);
	if (!c->known)
		advice__add(a, ADVICE_GEN0_EMPTY,
		    "%s: the gen-0 threshold (%s) is low for this workload; "
		    "raise it (gc.set_threshold(N) with N above gc.get_threshold()[0])", what,
		    c->why);
	else if (c->enabled == 0 || th[0] == 0)
		advice__add(a, ADVICE_GEN0_EMPTY,
		    "automatic collection is off (%s, gc.get_threshold() "
		    "(%d, %d, %d), read from the process): %s: these are gc.collect() calls that "
		    "find nothing; call it less often", c->enabled == 0 ? "gc.disable()" :
		    "threshold 0", th[0], th[1], th[2], what);
	else
		advice__add(a, ADVICE_GEN0_EMPTY,
		    "gen-0 threshold %d (gc.get_threshold() (%d, %d, %d), "
		    "read from the process): %s: the threshold is low for this workload; raise "
		    "it, e.g. gc.set_threshold(%lld, %d, %d)", th[0], th[0], th[1], th[2], what,
		    raised > INT_MAX ? (long long)INT_MAX : raised, th[1], th[2]);
}

/* What lowers the GC share, given the thresholds read (if they were). */
static const char *share_remedy(const struct gc_config *c, char *buf, size_t len)
{
	if (c->known && (c->enabled == 0 || c->threshold[0] == 0))
		snprintf(buf, len, "automatic collection is off, so these are the program's "
			 "gc.collect() calls: call it less often");
	else if (c->known)
		snprintf(buf, len, "raise the gen-0 threshold (now %d: gc.set_threshold) or "
			 "allocate fewer container objects in hot paths", c->threshold[0]);
	else
		snprintf(buf, len, "raise the gen-0 threshold (gc.set_threshold) or allocate "
			 "fewer container objects in hot paths");
	return buf;
}

/* gen-2 pauses: gc.freeze(), unless it is in use already (read from the process). */
static const char *freeze_remedy(const struct gc_config *c, char *buf, size_t len)
{
	if (c->frozen > 0)
		snprintf(buf, len, "gc.freeze() is in use (%lld objects frozen, read from the "
			 "process): keep fewer long-lived container objects, or freeze again after "
			 "later warm-up phases", (long long)c->frozen);
	else
		snprintf(buf, len, "call gc.freeze() after start-up so long-lived objects are no "
			 "longer scanned, and keep fewer long-lived container objects");
	return buf;
}

void advice__for_process(struct advice *a, const struct proc_totals *p,
			 const struct pause_rows *all, __u64 run_ns)
{
	const struct pause_row *gen[3] = {}, *sum = NULL;
	char d1[24], d2[24], d3[24], remedy[192];
	int i;

	for (i = 0; i < all->nr; i++) {
		const struct pause_row *r = &all->rows[i];

		if (r->proc != p)
			continue;
		if (r->gen >= 0)
			gen[r->gen] = r;
		else
			sum = r;
	}
	if (!sum || !run_ns)
		return;
	if ((double)sum->t.sum_ns / run_ns >= ADVICE_BOUND_SHARE)
		advice__add(a, ADVICE_GC_SHARE,
		    "GC took %.1f%% of wall time (%s in %llu collections over %.1f s): %s",
		    100.0 * sum->t.sum_ns / run_ns, text__duration(d1, sizeof(d1), sum->t.sum_ns),
		    (unsigned long long)sum->t.count, run_ns / 1e9, share_remedy(&p->gc, remedy,
										sizeof(remedy)));
	if (gen[2] && gen[2]->t.max_ns >= ADVICE_BOUND_GEN2_NS)
		advice__add(a, ADVICE_GEN2_PAUSES,
		    "gen-2 pauses up to %s (p99 %s, mean %s, %llu collections)%s: %s",
		    text__duration(d1, sizeof(d1), gen[2]->t.max_ns),
		    gen[2]->hist ? text__duration(d2, sizeof(d2), hdr__percentile(gen[2]->hist, 0.99))
				 : "-",
		    text__duration(d3, sizeof(d3), gen[2]->t.sum_ns / gen[2]->t.count),
		    (unsigned long long)gen[2]->t.count,
		    p->long_lived_total >= 0 ? " with long-lived objects in the heap" : "",
		    freeze_remedy(&p->gc, remedy, sizeof(remedy)));
	if (gen[0] && gen[0]->t.count * 1e9 / run_ns >= ADVICE_BOUND_GEN0_RATE &&
	    (double)gen[0]->t.collected / gen[0]->t.count < ADVICE_BOUND_GEN0_FREED)
		gen0_empty(a, &p->gc, &gen[0]->t, run_ns);
	for (i = 0; i < 3; i++)
		if (gen[i] && gen[i]->t.uncollectable)
			advice__add(a, ADVICE_UNCOLLECTABLE,
			    "%llu uncollectable objects found by gen-%d collections: reference cycles "
			    "the collector cannot free (legacy finalizers, tp_del); they stay in "
			    "gc.garbage and leak: find them with gc.garbage or gc.DEBUG_SAVEALL",
			    (unsigned long long)gen[i]->t.uncollectable, i);
	advice__growth(a, p);
}

void advice__free(struct advice *a)
{
	free(a->items);
	a->items = NULL;
	a->nr = 0;
}
