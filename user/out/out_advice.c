// SPDX-License-Identifier: GPL-2.0
/* --advice: at exit, what to do about what was measured, per process, with its numbers. */
#include "out/advice.h"
#include "out/sink.h"
#include "util/text.h"

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
			"%.0f ms, no idle gen-0 churn, nothing uncollectable)\n",
			100 * ADVICE_BOUND_SHARE, ADVICE_BOUND_GEN2_NS / 1e6);
}

const struct sink_ops advice_sink = {
	.name = "advice",
	.finish = advice_finish,
};
