// SPDX-License-Identifier: GPL-2.0
/* -f html's tables: totals, losses, the pause table (as --stats), the advice. */
#include "out/advice.h"
#include "out/html_page.h"
#include "out/sink.h"
#include "trace/hdr.h"
#include "util/text.h"

static const struct pause_row *total_row(const struct sink_report *r)
{
	int i;

	for (i = 0; i < r->rows->nr; i++)
		if (!r->rows->rows[i].proc && r->rows->rows[i].gen < 0)
			return &r->rows->rows[i];
	return NULL;
}

static void summary(FILE *f, const struct sink_report *r, __u64 events, __u64 step)
{
	const struct pause_row *all = total_row(r);
	struct gen_totals none = {};
	const struct gen_totals *t = all ? &all->t : &none;
	char sum[24], max[24];

	/* the test reads the totals from these attributes */
	fprintf(f, "<p id=\"totals\" data-count=\"%llu\" data-sum-ns=\"%llu\" data-max-ns=\"%llu\" "
		"data-wall-ns=\"%llu\" data-processes=\"%d\">%llu collections in %d processes, "
		"%s of pauses in all (longest %s) over %.1f s: %.3f%% of wall time.",
		(unsigned long long)t->count, (unsigned long long)t->sum_ns,
		(unsigned long long)t->max_ns, (unsigned long long)r->wall_ns, r->rows->nr_procs,
		(unsigned long long)t->count, r->rows->nr_procs,
		text__duration(sum, sizeof(sum), t->sum_ns), text__duration(max, sizeof(max),
									     t->max_ns),
		r->wall_ns / 1e9, r->wall_ns ? 100.0 * t->sum_ns / r->wall_ns : 0.0);
	if (step > 1)
		fprintf(f, " <span class=\"note\">The timelines draw every %llu-th of the %llu "
			"collections; the tables count all.</span>", (unsigned long long)step,
			(unsigned long long)events);
	fputs("</p>\n", f);
}

static void lost(FILE *f, const struct sink_report *r, __u64 no_memory)
{
	static const struct { int idx; const char *name, *what; } cnt[] = {
		{ GC_CNT_LOST, "lost", "events the ring buffer had no room for (the totals count them)" },
		{ GC_CNT_READ_ERRORS, "read_errors", "collections whose statistics were unreadable" },
		{ GC_CNT_NO_ENTRY, "no_entry", "exits with no entry seen (attached mid-collection)" },
		{ GC_CNT_HIST_FULL, "hist_full", "pauses not aggregated: histogram map full" },
		{ GC_CNT_PROC_LOST, "proc_lost", "exec notifications lost" },
		{ GC_CNT_RING_STALE, "ring_stale", "3.15 records reported already" },
		{ GC_CNT_UNATTRIBUTED, "unattributed", "collections of subinterpreters, not reported" },
	};
	__u64 missing = 0, live = 0;
	size_t i;
	int p, g;

	for (p = 0; p < r->rows->nr; p++) {
		const struct pause_row *row = &r->rows->rows[p];

		if (!row->proc || row->gen >= 0)
			continue;
		for (g = 0; g < 3; g++)
			if (row->proc->recorded[g] && row->proc->kernel[g].count > row->proc->gen[g].count) {
				missing += row->proc->kernel[g].count - row->proc->gen[g].count;
				live += row->proc->kernel[g].count;
			}
	}
	fputs("<h2>What was lost</h2>\n<table id=\"lost\"><tr><th class=\"l\">counter</th>"
	      "<th>value</th><th class=\"l\">meaning</th></tr>\n", f);
	for (i = 0; i < sizeof(cnt) / sizeof(cnt[0]); i++)
		fprintf(f, "<tr><td class=\"l\">%s</td><td%s>%llu</td><td class=\"l\">%s</td></tr>\n",
			cnt[i].name, r->totals->counters[cnt[i].idx] ? " class=\"warn\"" : "",
			(unsigned long long)r->totals->counters[cnt[i].idx], cnt[i].what);
	fprintf(f, "<tr><td class=\"l\">missing_events</td><td%s>%llu</td><td class=\"l\">"
		"collections the live run counted with no event in the trace (the tables come "
		"from the events)</td></tr>\n", missing ? " class=\"warn\"" : "",
		(unsigned long long)missing);
	if (no_memory)
		fprintf(f, "<tr><td class=\"l\">not_drawn</td><td class=\"warn\">%llu</td><td "
			"class=\"l\">collections not kept for the page: out of memory</td></tr>\n",
			(unsigned long long)no_memory);
	fputs("</table>\n", f);
	(void)live;
}

static void cell_duration(FILE *f, __u64 ns)
{
	char buf[24];

	fprintf(f, "<td>%s</td>", text__duration(buf, sizeof(buf), ns));
}

static void pause_table(FILE *f, const struct sink_report *r)
{
	int i, q;

	fputs("<h2>Pause table</h2>\n<table id=\"pauses\"><tr><th class=\"l\">PID</th>"
	      "<th class=\"l\">COMM</th><th class=\"l\">SERVICE</th><th>GEN</th><th>COUNT</th>"
	      "<th>SUM</th><th>MEAN</th><th>P50</th><th>P90</th><th>P95</th><th>P99</th>"
	      "<th>MAX</th><th>GC(%)</th></tr>\n", f);
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];
		const struct gen_totals *t = &row->t;
		char comm[GCBPF_COMM_LEN + 1];

		fputs("<tr>", f);
		if (row->proc) {
			snprintf(comm, sizeof(comm), "%.*s", GCBPF_COMM_LEN, row->proc->comm);
			fprintf(f, "<td class=\"l\">%d</td><td class=\"l\">", row->proc->pid);
			html__escape(f, comm);
			fputs("</td><td class=\"l\">", f);
			html__escape(f, row->proc->id.service);
			fputs("</td>", f);
		} else {
			fputs("<td class=\"l\">total</td><td class=\"l\">-</td><td class=\"l\">-</td>", f);
		}
		if (row->gen >= 0)
			fprintf(f, "<td>%d</td>", row->gen);
		else
			fputs("<td>all</td>", f);
		fprintf(f, "<td>%llu</td>", (unsigned long long)t->count);
		cell_duration(f, t->sum_ns);
		cell_duration(f, t->count ? t->sum_ns / t->count : 0);
		for (q = 0; q < SINK_NQ; q++)
			if (row->hist)
				cell_duration(f, hdr__percentile(row->hist, sink_quantiles[q]));
			else
				fputs("<td>-</td>", f);
		cell_duration(f, t->max_ns);
		fprintf(f, "<td>%.3f</td></tr>\n", r->wall_ns ? 100.0 * t->sum_ns / r->wall_ns : 0.0);
	}
	fputs("</table>\n", f);
}

static void advice(FILE *f, const struct sink_report *r)
{
	int i, j, n = 0;

	fputs("<h2>Advice</h2>\n<ul id=\"advice\">\n", f);
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];
		struct advice a = {};

		if (!row->proc || row->gen >= 0)
			continue;
		advice__for_process(&a, row->proc, r->rows, r->run_ns);
		for (j = 0; j < a.nr; j++, n++) {
			fprintf(f, "<li>pid %d ", row->proc->pid);
			html__escape(f, row->proc->id.service);
			fprintf(f, " [%s]: ", advice__name(a.items[j].kind));
			html__escape(f, a.items[j].text);
			fputs("</li>\n", f);
		}
		advice__free(&a);
	}
	if (!n)
		fprintf(f, "<li>none (GC below %.0f%% of wall time, gen-2 pauses below %.0f ms, no "
			"idle gen-0 churn, nothing uncollectable)</li>\n", 100 * ADVICE_BOUND_SHARE,
			ADVICE_BOUND_GEN2_NS / 1e6);
	fputs("</ul>\n", f);
}

void html__tables(FILE *f, const struct sink_report *r, __u64 events, __u64 step,
		  __u64 no_memory)
{
	summary(f, r, events, step);
	lost(f, r, no_memory);
	pause_table(f, r);
	advice(f, r);
}
