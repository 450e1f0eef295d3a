// SPDX-License-Identifier: GPL-2.0
/*
 * -f folded: one line per distinct Python stack at the trigger, outermost
 * frame first, "frame;frame;... VALUE" with VALUE the total pause in ns of
 * the collections it triggered (--folded-weight count: how many), the input
 * flamegraph.pl, inferno and speedscope read. Written at the end.
 * --folded-what inside: where the pauses' samples were instead, one line
 * per (generation; Python frames the collection ran, outermost first, or
 * the native function), VALUE the estimated pause ns (count: samples).
 */
#include <errno.h>
#include <stdlib.h>
#include "out/sink.h"
#include "trace/inside_agg.h"
#include "trace/stack_agg.h"

static int folded_start(struct sink *s)
{
	struct stack_agg *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	stack_agg__init(a, false);
	s->priv = a;
	return 0;
}

static void folded_event(struct sink *s, const struct sink_event *ev)
{
	if (s->cfg->folded_inside)
		return;		/* the samples: counted over the run (trace/inside_agg.c) */
	stack_agg__add(s->priv, ev->stack, ev->e->gen, ev->e->ts_stop - ev->e->ts_start);
}

static void folded_finish(struct sink *s, const struct sink_report *r)
{
	struct stack_agg *a = s->priv;
	char name[1024];
	int i, j;

	if (!a || !r)
		return;
	if (s->cfg->folded_inside) {
		if (r->totals->inside)
			inside_agg__folded(r->totals->inside, s->f, s->cfg->folded_count);
		return;
	}
	stack_agg__sort(a);
	for (i = 0; i < a->nr; i++) {
		const struct stack_site *site = &a->sites[i];
		__u64 v = s->cfg->folded_count ? site->count[0] + site->count[1] + site->count[2]
					       : site->sum_ns[0] + site->sum_ns[1] + site->sum_ns[2];

		if (site->unavailable) {
			fprintf(s->f, "[no stack] %llu\n", (unsigned long long)v);
			continue;
		}
		/* a cut stack lacks its outer frames: say so where they would be */
		if (site->truncated)
			fputs(site->nr ? "[truncated];" : "[truncated]", s->f);
		for (j = site->nr - 1; j >= 0; j--)
			fprintf(s->f, "%s%s", stack_agg__frame_name(name, sizeof(name), &site->frames[j]),
				j ? ";" : "");
		if (!site->nr && !site->truncated)
			fputs("[no Python frame]", s->f);
		fprintf(s->f, " %llu\n", (unsigned long long)v);
	}
}

static void folded_free(struct sink *s)
{
	if (s->priv)
		stack_agg__free(s->priv);
	free(s->priv);
	s->priv = NULL;
}

const struct sink_ops folded_sink = {
	.name = "folded",
	.machine = true,
	.aggregates = true,
	.start = folded_start,
	.event = folded_event,
	.finish = folded_finish,
	.free = folded_free,
};
