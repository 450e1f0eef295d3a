// SPDX-License-Identifier: GPL-2.0
/* --advice: at exit, what to do about what was measured, per process, with its numbers. */
#include "out/advice.h"
#include "out/sink.h"
#include "util/text.h"

/*
 * Per process and generation, the fits behind the growth advice, whether or
 * not they gave any; and gc.freeze()'s count.
 */
static void growth_finish(struct sink *s, const struct sink_report *r)
{
	char who[4 * IDENTITY_NAME_LEN + 1], line[640];
	int i, g, n = 0;

	for (i = 0; i < r->rows->nr; i++) {
		const struct proc_totals *p = r->rows->rows[i].proc;

		if (!p || r->rows->rows[i].gen >= 0)
			continue;
		text__escape(who, sizeof(who), p->id.service, sizeof(p->id.service));
		for (g = 0; g < 3; g++) {
			advice__growth_line(line, sizeof(line), p, g);
			if (!line[0])
				continue;
			if (!n++)
				fputs("\nPause growth (least squares over the collections seen; "
				      "slopes per 100k objects and per hour):\n", s->f);
			fprintf(s->f, "pid %d %s %s\n", p->pid, who, line);
		}
		if (p->gc.frozen >= 0)
			fprintf(s->f, "pid %d %s gc.freeze(): %lld objects frozen (the permanent "
				"generation, read from the process)\n", p->pid, who,
				(long long)p->gc.frozen);
		else
			fprintf(s->f, "pid %d %s gc.freeze(): unknown (%s)\n", p->pid, who,
				p->gc.frozen_why);
	}
	if (r->totals->counters[GC_CNT_LOST])
		fprintf(s->f, "(%llu events lost in the ring buffer are not in these fits)\n",
			(unsigned long long)r->totals->counters[GC_CNT_LOST]);
}

static void advice_finish(struct sink *s, const struct sink_report *r)
{
	char who[4 * IDENTITY_NAME_LEN + 1];
	int i, j, n = 0;

	if (!r)
		return;
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];
		struct advice a = {};

		if (!row->proc || row->gen >= 0)
			continue;
		advice__for_process(&a, row->proc, r->rows, r->run_ns);
		for (j = 0; j < a.nr; j++) {
			if (!n++)
				fputs("\nAdvice:\n", s->f);
			fprintf(s->f, "pid %d %s [%s]: %s\n", row->proc->pid,
				text__escape(who, sizeof(who), row->proc->id.service,
					     sizeof(row->proc->id.service)),
				advice__name(a.items[j].kind), a.items[j].text);
		}
		advice__free(&a);
	}
	if (!n)
		fprintf(s->f, "\nAdvice: none (GC below %.0f%% of wall time, gen-2 pauses below "
			"%.0f ms, no idle gen-0 churn, nothing uncollectable, no pause growth, "
			"no collections that free nothing)\n",
			100 * ADVICE_BOUND_SHARE, ADVICE_BOUND_GEN2_NS / 1e6);
	growth_finish(s, r);
}

const struct sink_ops advice_sink = {
	.name = "advice",
	.finish = advice_finish,
};
