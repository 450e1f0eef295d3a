// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hdr.h"
#include "output.h"
#include "report.h"

int report__parse_table(const char *s, enum table_format *fmt)
{
	if (!strcmp(s, "plain"))
		*fmt = TABLE_PLAIN;
	else if (!strcmp(s, "md") || !strcmp(s, "markdown"))
		*fmt = TABLE_MD;
	else
		return -1;
	return 0;
}

static const double quantiles[] = { 0.50, 0.90, 0.95, 0.99 };
static const char *const qnames[] = { "p50", "p90", "p95", "p99" };
#define NQ 4

static const char *const plain_cols[] = { "PID", "COMM", "GEN", "COUNT", "SUM(ms)", "MEAN(ms)",
					  "P50(ms)", "P90(ms)", "P95(ms)", "P99(ms)", "MAX(ms)",
					  "GC(%)" };

static void table_header(FILE *f, enum table_format fmt)
{
	size_t i;

	if (fmt == TABLE_MD) {
		for (i = 0; i < sizeof(plain_cols) / sizeof(plain_cols[0]); i++)
			fprintf(f, "| %s ", plain_cols[i]);
		fputs("|\n|---|---|---|", f);
		for (i = 3; i < sizeof(plain_cols) / sizeof(plain_cols[0]); i++)
			fputs("---:|", f);
		fputc('\n', f);
		return;
	}
	fprintf(f, "%-7s %-15s %3s %8s %11s %9s %9s %9s %9s %9s %9s %7s\n", plain_cols[0],
		plain_cols[1], plain_cols[2], plain_cols[3], plain_cols[4], plain_cols[5],
		plain_cols[6], plain_cols[7], plain_cols[8], plain_cols[9], plain_cols[10],
		plain_cols[11]);
}

static void table_row(FILE *f, enum table_format fmt, const char *pid, const char *comm,
		      const char *gen, const struct gc_hist *h, __u64 wall_ns)
{
	double ms[NQ], share = wall_ns ? 100.0 * h->sum_ns / wall_ns : 0;
	int i;

	for (i = 0; i < NQ; i++)
		ms[i] = hdr__percentile(h, quantiles[i]) / 1e6;
	if (fmt == TABLE_MD)
		fprintf(f, "| %s | %s | %s | %llu | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f "
			"| %.3f |\n", pid, comm, gen, (unsigned long long)h->count, h->sum_ns / 1e6,
			h->sum_ns / 1e6 / h->count, ms[0], ms[1], ms[2], ms[3], h->max_ns / 1e6,
			share);
	else
		fprintf(f, "%-7s %-15.15s %3s %8llu %11.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f "
			"%7.3f\n", pid, comm, gen, (unsigned long long)h->count, h->sum_ns / 1e6,
			h->sum_ns / 1e6 / h->count, ms[0], ms[1], ms[2], ms[3], h->max_ns / 1e6,
			share);
}

static void json_row(FILE *f, int pid, const char *comm, int gen, const struct gc_hist *h,
		     bool interval, __u64 wall_ns)
{
	int i;

	fputs("{\"type\":\"stats\",\"pid\":", f);
	if (pid > 0)
		fprintf(f, "%d,\"comm\":", pid);
	else
		fputs("null,\"comm\":", f);
	if (comm)
		json_string(f, comm, GCBPF_COMM_LEN);
	else
		fputs("null", f);
	if (gen >= 0)
		fprintf(f, ",\"gen\":%d", gen);
	else
		fputs(",\"gen\":\"all\"", f);
	fprintf(f, ",\"interval\":%s,\"wall_ns\":%llu,\"count\":%llu,\"sum_ns\":%llu,"
		"\"mean_ns\":%.1f", interval ? "true" : "false", (unsigned long long)wall_ns,
		(unsigned long long)h->count, (unsigned long long)h->sum_ns,
		(double)h->sum_ns / h->count);
	for (i = 0; i < NQ; i++)
		fprintf(f, ",\"%s_ns\":%llu", qnames[i],
			(unsigned long long)hdr__percentile(h, quantiles[i]));
	fprintf(f, ",\"max_ns\":%llu,\"gc_share\":%.6f,\"collected\":%llu,\"uncollectable\":%llu}\n",
		(unsigned long long)h->max_ns, wall_ns ? (double)h->sum_ns / wall_ns : 0.0,
		(unsigned long long)h->collected, (unsigned long long)h->uncollectable);
}

static void print_hist(FILE *f, const char *label, const struct gc_hist *h)
{
	__u64 slots[HDR_LOG2_SLOTS];

	if (!h->count)
		return;
	hdr__log2(h, slots);
	fprintf(f, "@pause_ns[%s]:\n", label);
	hdr__print_log2(f, slots);
	fputc('\n', f);
}

void report__print(struct agg *a, const struct report_opts *o, bool interval, __u64 wall_ns)
{
	static const char *const gname[] = { "0", "1", "2" };
	struct gc_hist *ph, *all, *tot, *zero;
	FILE *t = o->table_f, *j = o->json_f;
	char pid[16], label[64];
	int i, g, n = a->nr;

	agg__sort(a);
	/* Per process: 3 generations + their sum; then totals: 3 + 1. */
	ph = calloc((size_t)n * 3 + 4 + 1 + 1, sizeof(*ph));
	if (!ph)
		return;
	tot = ph + (size_t)n * 3;
	all = tot + 4;
	zero = all + 1;
	for (i = 0; i < n; i++) {
		struct agg_proc *p = &a->procs[i];

		if (interval) {
			struct gc_hist *out[3] = { &ph[i * 3], &ph[i * 3 + 1], &ph[i * 3 + 2] };

			agg__interval(p, out);
		} else {
			for (g = 0; g < 3; g++)
				memcpy(&ph[i * 3 + g], p->cur[g] ? p->cur[g] : zero, sizeof(*ph));
		}
		for (g = 0; g < 3; g++) {
			hdr__merge(&tot[g], &ph[i * 3 + g]);
			hdr__merge(&tot[3], &ph[i * 3 + g]);
		}
	}
	if (t && o->stats) {
		if (interval) {
			time_t now = time(NULL);
			struct tm tm;
			char when[16];

			localtime_r(&now, &tm);
			strftime(when, sizeof(when), "%H:%M:%S", &tm);
			fprintf(t, "\n%s  pauses in the last %.1f s\n", when, wall_ns / 1e9);
		} else {
			fprintf(t, "\nPauses over %.1f s:\n", wall_ns / 1e9);
		}
		table_header(t, o->table);
	}
	for (i = 0; i < n && o->stats; i++) {
		struct agg_proc *p = &a->procs[i];
		int gens = 0;

		memset(all, 0, sizeof(*all));
		snprintf(pid, sizeof(pid), "%d", p->pid);
		for (g = 0; g < 3; g++) {
			const struct gc_hist *h = &ph[i * 3 + g];

			if (!h->count)
				continue;
			gens++;
			hdr__merge(all, h);
			if (t)
				table_row(t, o->table, pid, p->comm, gname[g], h, wall_ns);
			if (j)
				json_row(j, p->pid, p->comm, g, h, interval, wall_ns);
		}
		if (gens > 1 && t)
			table_row(t, o->table, pid, p->comm, "all", all, wall_ns);
		if (gens && j)
			json_row(j, p->pid, p->comm, -1, all, interval, wall_ns);
	}
	if (o->stats) {
		for (g = 0; g < 4; g++) {
			if (!tot[g].count)
				continue;
			if (t)
				table_row(t, o->table, "total", "-", g < 3 ? gname[g] : "all", &tot[g],
					  wall_ns);
			if (j)
				json_row(j, 0, NULL, g < 3 ? g : -1, &tot[g], interval, wall_ns);
		}
		if (t && !tot[3].count)
			fprintf(t, "(no collections)\n");
	}
	if (t && o->hist != HIST_NONE) {
		fputc('\n', t);
		if (!tot[3].count)
			fprintf(t, "(no collections to histogram)\n");
		for (i = 0; i < n && o->hist == HIST_PID; i++)
			for (g = 0; g < 3; g++) {
				snprintf(label, sizeof(label), "%d, %s, gen %d", a->procs[i].pid,
					 a->procs[i].comm, g);
				print_hist(t, label, &ph[i * 3 + g]);
			}
		for (g = 0; g < 3 && o->hist == HIST_GEN; g++) {
			snprintf(label, sizeof(label), "gen %d", g);
			print_hist(t, label, &tot[g]);
		}
	}
	if (t)
		fflush(t);
	if (j)
		fflush(j);
	free(ph);
}
