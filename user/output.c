// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "output.h"
#include "pystack.h"

int output__parse_format(const char *s, enum output_format *fmt)
{
	if (!strcmp(s, "text"))
		*fmt = OUTPUT_TEXT;
	else if (!strcmp(s, "jsonl") || !strcmp(s, "json"))
		*fmt = OUTPUT_JSONL;
	else if (!strcmp(s, "chrome") || !strcmp(s, "perfetto"))
		*fmt = OUTPUT_CHROME;
	else
		return -1;
	return 0;
}

void output__init(struct output *o, enum output_format fmt, FILE *f, FILE *summary)
{
	memset(o, 0, sizeof(*o));
	o->format = fmt;
	o->f = f;
	o->summary = summary;
	o->mono_to_real_ns = (__s64)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	if (fmt == OUTPUT_CHROME)
		chrome_trace__start(&o->chrome, f);
}

void output__finish(struct output *o)
{
	if (o->format == OUTPUT_CHROME)
		chrome_trace__finish(&o->chrome);
}

void json_string(FILE *f, const char *s, size_t max)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A count the build may not have: JSON null for -1. */
static void json_count(FILE *f, const char *key, __s64 v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%" PRId64, key, (int64_t)v);
}

static const char *reason_name(int reason)
{
	switch (reason) {
	case 0: return "heap";
	case 1: return "shutdown";
	case 2: return "manual";
	default: return NULL;
	}
}

static void event_jsonl(struct output *o, const struct gc_event *e, const struct py_build *b)
{
	FILE *f = o->f;
	__u64 ns = e->ts_stop - e->ts_start;
	const char *reason = reason_name(e->reason);

	fprintf(f, "{\"pid\":%u,\"tid\":%u,\"comm\":", e->pid, e->tid);
	json_string(f, e->comm, sizeof(e->comm));
	json_count(f, "iid", e->iid);
	fprintf(f, ",\"gen\":%d,\"reason\":", e->gen);
	if (reason)
		fprintf(f, "\"%s\"", reason);
	else
		fputs("null", f);
	fprintf(f, ",\"ts_start\":%llu,\"ts_stop\":%llu,\"duration_ns\":%llu,\"duration\":%.6f",
		(unsigned long long)e->ts_start, (unsigned long long)e->ts_stop,
		(unsigned long long)ns, ns / 1e6);
	json_count(f, "collected", e->collected);
	json_count(f, "uncollectable", e->uncollectable);
	json_count(f, "heap_size", e->heap_size);
	json_count(f, "long_lived_total", e->long_lived_total);
	json_count(f, "long_lived_pending", e->long_lived_pending);
	json_count(f, "candidates", e->candidates);
	json_count(f, "collections", e->collections);
	fputs(",\"python\":", f);
	if (b)
		json_string(f, b->version, sizeof(b->version));
	else
		fputs("null", f);
	fprintf(f, ",\"probe\":\"%s\"", py_build__probe_name(e->probe));
	fputs(",\"binary\":", f);
	if (b)
		json_string(f, b->display_path, sizeof(b->display_path));
	else
		fputs("null", f);
	fprintf(f, ",\"cgroup\":%llu", (unsigned long long)e->cgroup_id);
	if (o->stack)
		pystack__jsonl(f, o->stack);
	fputs("}\n", f);
}

static void text_header(struct output *o)
{
	fprintf(o->f, "%-12s %-7s %-7s %-15s %3s %10s %9s %6s\n", "TIME", "PID", "TID", "COMM",
		"GEN", "PAUSE(ms)", "COLLECTED", "UNCOLL");
}

static void event_text(struct output *o, const struct gc_event *e)
{
	__s64 real = (__s64)e->ts_start + o->mono_to_real_ns;
	time_t sec = real / 1000000000;
	struct tm tm;
	char when[16];

	if (o->lines++ == 0)
		text_header(o);
	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(o->f, "%s.%03lld %-7u %-7u %-15.15s %3d %10.3f ", when,
		(long long)(real % 1000000000 / 1000000), e->pid, e->tid, e->comm, e->gen,
		(e->ts_stop - e->ts_start) / 1e6);
	if (e->flags & GC_EV_READ_ERROR)
		fprintf(o->f, "%9s %6s\n", "?", "?");
	else
		fprintf(o->f, "%9lld %6lld\n", (long long)e->collected, (long long)e->uncollectable);
}

void output__event(struct output *o, const struct gc_event *e, const struct py_build *b)
{
	if (o->format == OUTPUT_JSONL)
		event_jsonl(o, e, b);
	else if (o->format == OUTPUT_TEXT)
		event_text(o, e);
	else if (o->format == OUTPUT_CHROME)
		chrome_trace__event(&o->chrome, e, b ? b->version : NULL);
}

void output__flush(struct output *o)
{
	fflush(o->f);
}

static void summary_jsonl(struct output *o, struct stats *s, const __u64 counters[GC_CNT_MAX])
{
	int i, g;

	for (i = 0; i < s->nr; i++) {
		for (g = 0; g < 3; g++) {
			const struct gen_totals *t = &s->procs[i].gen[g];

			if (!t->count)
				continue;
			fprintf(o->f, "{\"type\":\"summary\",\"pid\":%d,\"comm\":", s->procs[i].pid);
			json_string(o->f, s->procs[i].comm, GCBPF_COMM_LEN);
			fprintf(o->f,
				",\"gen\":%d,\"count\":%llu,\"total_ns\":%llu,\"max_ns\":%llu,"
				"\"collected\":%lld,\"uncollectable\":%lld}\n",
				g, (unsigned long long)t->count, (unsigned long long)t->total_ns,
				(unsigned long long)t->max_ns, (long long)t->collected,
				(long long)t->uncollectable);
		}
	}
	fprintf(o->f, "{\"type\":\"counters\",\"lost\":%llu,\"read_errors\":%llu,\"no_entry\":%llu}\n",
		(unsigned long long)counters[GC_CNT_LOST],
		(unsigned long long)counters[GC_CNT_READ_ERRORS],
		(unsigned long long)counters[GC_CNT_NO_ENTRY]);
	fflush(o->f);
}

static void summary_row(FILE *f, int gen, const struct gen_totals *t)
{
	fprintf(f, "%3d %8llu %12.3f %10.3f %10.3f\n", gen, (unsigned long long)t->count,
		t->total_ns / 1e6, t->total_ns / 1e6 / t->count, t->max_ns / 1e6);
}

void output__summary(struct output *o, struct stats *s, const __u64 counters[GC_CNT_MAX])
{
	struct gen_totals all[3] = {};
	bool containers = false;
	FILE *f = o->summary;
	int i, g;

	stats__sort(s);
	if (o->format == OUTPUT_JSONL)
		summary_jsonl(o, s, counters);
	if (!f)
		return;
	for (i = 0; i < s->nr; i++)
		containers |= s->procs[i].container[0] != 0;
	fprintf(f, "\n%-7s %-15s ", "PID", "COMM");
	if (containers)
		fprintf(f, "%-12s ", "CONTAINER");
	fprintf(f, "%3s %8s %12s %10s %10s\n", "GEN", "COUNT", "TOTAL(ms)", "MEAN(ms)",
		"MAX(ms)");
	for (i = 0; i < s->nr; i++) {
		for (g = 0; g < 3; g++) {
			const struct gen_totals *t = &s->procs[i].gen[g];

			if (!t->count)
				continue;
			fprintf(f, "%-7d %-15.15s ", s->procs[i].pid, s->procs[i].comm);
			if (containers)
				fprintf(f, "%-12s ", s->procs[i].container[0] ? s->procs[i].container : "-");
			summary_row(f, g, t);
			all[g].count += t->count;
			all[g].total_ns += t->total_ns;
			if (t->max_ns > all[g].max_ns)
				all[g].max_ns = t->max_ns;
		}
	}
	/* Every process together, when there are several. */
	for (g = 0; s->nr > 1 && g < 3; g++) {
		if (!all[g].count)
			continue;
		fprintf(f, "%-7s %-15s ", "total", "-");
		if (containers)
			fprintf(f, "%-12s ", "-");
		summary_row(f, g, &all[g]);
	}
	if (!s->nr)
		fprintf(f, "(no collections)\n");
	if (counters[GC_CNT_LOST] || counters[GC_CNT_READ_ERRORS])
		fprintf(f, "Lost: %llu events (ring buffer full), %llu collections with unreadable "
			"statistics\n", (unsigned long long)counters[GC_CNT_LOST],
			(unsigned long long)counters[GC_CNT_READ_ERRORS]);
	fflush(f);
}
