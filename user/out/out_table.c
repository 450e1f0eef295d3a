// SPDX-License-Identifier: GPL-2.0
/*
 * The pause table: at exit always (exactly one), and per -i interval with
 * --stats. Per process and generation: count, sum, mean, max; with --stats
 * also p50/p90/p95/p99 and the GC share of wall time. Times in the unit that
 * fits each value. Plain columns or Markdown (--table-format md).
 */
#include <time.h>
#include "trace/hdr.h"
#include "out/sink.h"
#include "util/text.h"

const double sink_quantiles[SINK_NQ] = { 0.50, 0.90, 0.95, 0.99 };
const char *const sink_qnames[SINK_NQ] = { "p50", "p90", "p95", "p99" };

#define MAX_COLS 14

struct table {
	FILE *f;
	bool md;
	int nr;
	const char *head[MAX_COLS];
	int width[MAX_COLS];	/* plain: < 0 left-aligned */
};

static void add_col(struct table *t, const char *head, int width)
{
	t->head[t->nr] = head;
	t->width[t->nr++] = width;
}

static void print_row(const struct table *t, char cells[][40])
{
	int i;

	for (i = 0; i < t->nr; i++) {
		if (t->md)
			fprintf(t->f, "| %s ", cells[i]);
		else if (t->width[i] < 0)
			fprintf(t->f, "%s%-*.*s", i ? " " : "", -t->width[i], -t->width[i], cells[i]);
		else
			fprintf(t->f, "%s%*s", i ? " " : "", t->width[i], cells[i]);
	}
	fputs(t->md ? "|\n" : "\n", t->f);
}

static void print_head(const struct table *t)
{
	char cells[MAX_COLS][40];
	int i;

	for (i = 0; i < t->nr; i++)
		snprintf(cells[i], sizeof(cells[i]), "%s", t->head[i]);
	print_row(t, cells);
	if (!t->md)
		return;
	for (i = 0; i < t->nr; i++)
		fputs(t->width[i] < 0 ? "|---" : "|---:", t->f);
	fputs("|\n", t->f);
}

static bool any_container(const struct pause_rows *rows)
{
	int i;

	for (i = 0; i < rows->nr; i++)
		if (rows->rows[i].proc && rows->rows[i].proc->id.container[0])
			return true;
	return false;
}

static void bytes_cell(char *buf, size_t len, __s64 v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else if (v < 10 << 20)
		snprintf(buf, len, "%lldK", (long long)v >> 10);
	else
		snprintf(buf, len, "%lldM", (long long)v >> 20);
}

/* --stats: each process's memory as of its last collection. */
static void print_memory(struct sink *s, const struct pause_rows *rows)
{
	struct table t = { .f = s->f, .md = s->cfg->table == TABLE_MD };
	char cells[MAX_COLS][40];
	int i;

	add_col(&t, "PID", -7);
	add_col(&t, "SERVICE", -20);
	add_col(&t, "HEAP", 12);
	add_col(&t, "LONG_LIVED", 12);
	add_col(&t, "RSS", 9);
	fputs("\nMemory at the last collection (HEAP: tracked objects, 3.14+; LONG_LIVED: objects "
	      "that survived the last full collection):\n", s->f);
	print_head(&t);
	for (i = 0; i < rows->nr; i++) {
		const struct proc_totals *p = rows->rows[i].proc;

		if (!p || rows->rows[i].gen >= 0)
			continue;
		snprintf(cells[0], 40, "%d", p->pid);
		text__escape(cells[1], 40, p->id.service, sizeof(p->id.service));
		snprintf(cells[2], 40, p->heap_size >= 0 ? "%lld" : "-", (long long)p->heap_size);
		snprintf(cells[3], 40, p->long_lived_total >= 0 ? "%lld" : "-",
			 (long long)p->long_lived_total);
		bytes_cell(cells[4], 40, p->rss);
		print_row(&t, cells);
	}
}

#define UNTIMED_LINES 10	/* processes named in the footnote; the rest summed */

/*
 * Collections the table cannot hold: those processes ran before gcbpf armed
 * them (their interpreters' counters say how many), and the processes whose
 * counters could not be read.
 */
static void print_untimed(FILE *f, const struct totals *t)
{
	unsigned long long rest = 0, n;
	int i, g, shown = 0, more = 0;

	for (i = 0; i < t->procs.nr; i++) {
		const struct proc_totals *p = &t->procs.items[i];
		__u64 u[3];

		if (!p->id.matched)
			continue;
		for (g = 0, n = 0; g < 3; g++)
			n += u[g] = totals__untimed(p, g);
		if (!n)
			continue;
		if (shown == UNTIMED_LINES) {
			more++;
			rest += n;
			continue;
		}
		shown++;
		fprintf(f, "%llu collection%s ran before gcbpf armed pid %d: g0 %llu, g1 %llu, "
			"g2 %llu; not timed\n", n, n == 1 ? "" : "s", p->pid,
			(unsigned long long)u[0], (unsigned long long)u[1], (unsigned long long)u[2]);
	}
	if (more)
		fprintf(f, "%llu collections ran before gcbpf armed %d more processes; not timed\n",
			rest, more);
	if (t->before_unknown)
		fprintf(f, "Collections before gcbpf armed them unknown for %llu process%s (their "
			"memory could not be read; -v says why)\n",
			(unsigned long long)t->before_unknown, t->before_unknown == 1 ? "" : "es");
}

static void print_table(struct sink *s, const struct sink_report *r, bool final)
{
	const struct pause_rows *rows = r->rows;
	bool stats = s->cfg->stats, containers = any_container(rows);
	struct table t = { .f = s->f, .md = s->cfg->table == TABLE_MD };
	char cells[MAX_COLS][40];
	int i, q, c;

	add_col(&t, "PID", -7);
	add_col(&t, "COMM", -15);
	add_col(&t, "SERVICE", -20);
	if (containers)
		add_col(&t, "CONTAINER", -12);
	add_col(&t, "GEN", 3);
	add_col(&t, "COUNT", 8);
	add_col(&t, "SUM", 11);
	add_col(&t, "MEAN", 10);
	for (q = 0; stats && q < SINK_NQ; q++)
		add_col(&t, q == 0 ? "P50" : q == 1 ? "P90" : q == 2 ? "P95" : "P99", 10);
	add_col(&t, "MAX", 10);
	if (stats)
		add_col(&t, "GC(%)", 7);

	if (stats && r->interval) {
		time_t now = time(NULL);
		struct tm tm;
		char when[16];

		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(s->f, "\n%s  pauses in the last %.1f s\n", when, r->wall_ns / 1e9);
	} else if (stats) {
		fprintf(s->f, "\nPauses in %.1f s of tracing:\n", r->wall_ns / 1e9);
	} else {
		fputc('\n', s->f);
	}
	print_head(&t);
	for (i = 0; i < rows->nr; i++) {
		const struct pause_row *row = &rows->rows[i];
		const struct gen_totals *g = &row->t;

		/* A process's sum only when it adds to its rows; the totals
		 * when there is more than one process, or with --stats. */
		if (row->proc && row->gen < 0 && (!stats || row->parts < 2))
			continue;
		if (!row->proc && !stats && (rows->nr_procs < 2 || row->gen < 0))
			continue;
		c = 0;
		if (row->proc) {
			snprintf(cells[c++], 40, "%d", row->proc->pid);
			text__escape(cells[c++], 40, row->proc->comm, sizeof(row->proc->comm));
			text__escape(cells[c++], 40, row->proc->id.service, sizeof(row->proc->id.service));
		} else {
			snprintf(cells[c++], 40, "total");
			snprintf(cells[c++], 40, "-");
			snprintf(cells[c++], 40, "-");
		}
		if (containers)
			snprintf(cells[c++], 40, "%s",
				 row->proc && row->proc->id.container[0] ? row->proc->id.container : "-");
		if (row->gen >= 0)
			snprintf(cells[c++], 40, "%d", row->gen);
		else
			snprintf(cells[c++], 40, "all");
		snprintf(cells[c++], 40, "%llu", (unsigned long long)g->count);
		text__duration(cells[c++], 40, g->sum_ns);
		text__duration(cells[c++], 40, g->count ? g->sum_ns / g->count : 0);
		for (q = 0; stats && q < SINK_NQ; q++) {
			if (row->hist)
				text__duration(cells[c++], 40,
					       hdr__percentile(row->hist, sink_quantiles[q]));
			else
				snprintf(cells[c++], 40, "-");	/* retired: no buckets kept */
		}
		text__duration(cells[c++], 40, g->max_ns);
		if (stats)
			snprintf(cells[c++], 40, "%.3f",
				 r->wall_ns ? 100.0 * g->sum_ns / r->wall_ns : 0.0);
		print_row(&t, cells);
	}
	if (!rows->nr)
		fprintf(s->f, "(no collections)\n");
	if (final)
		print_untimed(s->f, r->totals);
	if (stats && rows->nr_procs)
		print_memory(s, rows);
	if (final && (r->totals->counters[GC_CNT_LOST] || r->totals->counters[GC_CNT_READ_ERRORS]))
		fprintf(s->f, "Lost: %llu events (ring buffer full; the table still counts them), "
			"%llu collections with unreadable statistics\n",
			(unsigned long long)r->totals->counters[GC_CNT_LOST],
			(unsigned long long)r->totals->counters[GC_CNT_READ_ERRORS]);
	/* Inside a container: the host's Pythons are expected, not a loss. */
	if (final && stats && (r->totals->counters[GC_CNT_FOREIGN] ||
			       r->totals->counters[GC_CNT_FOREIGN_EXEC]))
		fprintf(s->f, "Outside gcbpf's PID namespace, ignored: %llu collector entries, "
			"%llu execs\n", (unsigned long long)r->totals->counters[GC_CNT_FOREIGN],
			(unsigned long long)r->totals->counters[GC_CNT_FOREIGN_EXEC]);
}

static void table_report(struct sink *s, const struct sink_report *r)
{
	if (s->cfg->stats && s->cfg->intervals)
		print_table(s, r, false);
}

static void table_finish(struct sink *s, const struct sink_report *r)
{
	if (r)
		print_table(s, r, true);
}

const struct sink_ops table_sink = {
	.name = "table",
	.report = table_report,
	.finish = table_finish,
};
