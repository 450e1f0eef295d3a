// SPDX-License-Identifier: GPL-2.0
/*
 * --by-stack[=N]: at exit, the N trigger sites (the Python stacks the
 * collections started from) ranked by total pause: the leaf frame, its
 * callers shortened, and per generation count, sum, p99 and max.
 */
#include <errno.h>
#include <stdlib.h>
#include "trace/hdr.h"
#include "out/sink.h"
#include "trace/stack_agg.h"
#include "util/text.h"

#define CALLERS 3	/* callers shown after the leaf */

static int bystack_start(struct sink *s)
{
	struct stack_agg *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	stack_agg__init(a, true);
	s->priv = a;
	return 0;
}

static void bystack_event(struct sink *s, const struct sink_event *ev)
{
	stack_agg__add(s->priv, ev->stack, ev->e->gen, ev->e->ts_stop - ev->e->ts_start);
}

static void bystack_finish(struct sink *s, const struct sink_report *r)
{
	struct stack_agg *a = s->priv;
	char name[1024], sum[24], p99[24], max[24];
	const struct stack_site **ranked;
	int i, j, g, shown, nr;

	if (!a || !r)
		return;
	nr = stack_agg__ranked(a, &ranked);
	if (nr < 0) {
		fprintf(s->f, "\nTrigger sites: out of memory\n");
		return;
	}
	fprintf(s->f, "\nTrigger sites by total pause (%d distinct stacks, %llu collections%s):\n",
		a->nr, (unsigned long long)a->events,
		r->totals->counters[GC_CNT_LOST] ? "; events lost in the ring buffer are not in "
						   "these numbers" : "");
	for (i = 0; i < nr && i < s->cfg->by_stack; i++) {
		const struct stack_site *site = ranked[i];

		text__duration(sum, sizeof(sum), site->sum_ns[0] + site->sum_ns[1] + site->sum_ns[2]);
		/* named as in -f folded */
		if (site->unavailable) {
			fprintf(s->f, "%2d. %s  [no stack]\n", i + 1, sum);
		} else if (!site->nr) {
			fprintf(s->f, "%2d. %s  %s\n", i + 1, sum,
				site->truncated ? "[truncated]" : "[no Python frame]");
		} else {
			fprintf(s->f, "%2d. %s  %s\n", i + 1, sum,
				stack_agg__frame_name(name, sizeof(name), &site->frames[0]));
			for (j = 1, shown = 0; j < site->nr && shown < CALLERS; j++, shown++)
				fprintf(s->f, "      <- %s\n",
					stack_agg__frame_name(name, sizeof(name), &site->frames[j]));
			if (site->nr - 1 > CALLERS || site->truncated)
				fprintf(s->f, "      <- ... %d more%s\n", site->nr - 1 - shown,
					site->truncated ? " (cut)" : "");
		}
		for (g = 0; g < 3; g++) {
			if (!site->count[g])
				continue;
			fprintf(s->f, "      gen %d: %8llu collections  sum %10s  p99 %9s  max %9s\n",
				g, (unsigned long long)site->count[g],
				text__duration(sum, sizeof(sum), site->sum_ns[g]),
				site->hist[g] ? text__duration(p99, sizeof(p99),
							       hdr__percentile(site->hist[g], 0.99))
					      : "-",
				text__duration(max, sizeof(max), site->max_ns[g]));
		}
	}
	if (!a->nr)
		fprintf(s->f, "(no collections)\n");
	free(ranked);
}

static void bystack_free(struct sink *s)
{
	if (s->priv)
		stack_agg__free(s->priv);
	free(s->priv);
	s->priv = NULL;
}

const struct sink_ops bystack_sink = {
	.name = "by-stack",
	.aggregates = true,
	.start = bystack_start,
	.event = bystack_event,
	.finish = bystack_finish,
	.free = bystack_free,
};
