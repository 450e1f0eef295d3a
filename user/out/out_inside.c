// SPDX-License-Identifier: GPL-2.0
/*
 * --inside: at exit, after the pause table, where the sampled pause time
 * went, per process and generation: the top native functions and Python
 * sites (the outermost frame the collection ran: a finalizer, a callback),
 * each with its samples beside its share, as perf report shows them.
 */
#include <stdio.h>
#include "out/sink.h"
#include "trace/inside_agg.h"

#define INSIDE_TOP 5	/* functions and sites per generation */

struct print_ctx {
	FILE *f;
};

static void print_line(void *ctx, int bold, const char *line)
{
	struct print_ctx *c = ctx;

	fprintf(c->f, "%s\n", line);
}

static void inside_finish(struct sink *s, const struct sink_report *r)
{
	const struct inside_agg *a = r ? r->totals->inside : NULL;
	struct print_ctx c = { s->f };
	int i, j;

	if (!a)
		return;
	fprintf(s->f, "\nWhere pause time went (sampled at %u Hz per CPU: a sample is ~%.3f ms "
		"of a pause; shares of the samples, estimated time = each collection's pause "
		"split over its samples):\n", a->hz, 1e3 / a->hz);
	if (!a->nr_gens) {
		fprintf(s->f, "no samples: no pause lasted long enough to be sampled\n");
		return;
	}
	fprintf(s->f, "%-8s %7s %8s  %10s  %s\n", "", "SHARE", "SAMPLES", "EST", "WHERE");
	for (i = 0; i < a->nr_gens; i++) {
		pid_t pid = a->gens[i].pid;

		for (j = 0; j < i && a->gens[j].pid != pid; j++)
			;
		if (j < i)
			continue;	/* printed with its first generation */
		fprintf(s->f, "pid %d\n", pid);
		inside_agg__lines(a, pid, INSIDE_TOP, print_line, &c);
	}
}

const struct sink_ops inside_sink = {
	.name = "inside",
	.finish = inside_finish,
};
