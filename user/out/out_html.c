// SPDX-License-Identifier: GPL-2.0
/*
 * -f html (and gcbpf report --html): one self-contained page written at the
 * end: Chart.js (Debian's libjs-chart.js) inlined, the data as a JSON
 * literal, the drawing script (html_page.c). A Content-Security-Policy
 * forbids every fetch, so opening it makes no network request. Shown: a
 * timeline of pauses per process (per generation; hover: the collection's
 * fields), heap/long-lived/RSS over time, histograms per generation, the
 * pause table and advice (the live run's numbers, from its rows), the
 * trigger-site flame graph (with stacks), and what was lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "out/advice.h"
#include "out/html_page.h"
#include "out/json_writer.h"
#include "out/sink.h"
#include "trace/hdr.h"
#include "trace/inside_agg.h"
#include "trace/stack_agg.h"
#include "util/log.h"
#include "util/text.h"
#include "util/vec.h"

#define HTML_MAX_POINTS 20000	/* events drawn; beyond, every k-th (said on the page) */
#define HTML_MAX_PROCS 12	/* processes with a timeline, by total pause */

struct html_ev {
	int proc;
	__s16 gen;
	__s8 reason;
	__u64 ts, dur;
	__s64 collected, uncollectable, heap, long_lived, rss;
};

struct html_proc {
	const struct proc_totals *key;
	pid_t pid;
	char comm[GCBPF_COMM_LEN + 1];
	char service[IDENTITY_NAME_LEN];
	char cmdline[IDENTITY_CMDLINE_LEN];
	__u64 sum_ns;
};

struct html_out {
	char *chart_js;
	size_t chart_len;
	VEC(struct html_ev) evs;
	VEC(struct html_proc) procs;
	struct stack_agg stacks;
	bool any_stack;
	__u64 no_memory;	/* events not kept for the timeline */
};

/* Debian's Chart.js, whole: the page must not fetch it. */
static int read_chart_js(struct html_out *h)
{
	const char *path = getenv("GCBPF_CHART_JS") ?: HTML_CHART_JS;
	FILE *f = fopen(path, "re");
	long len;

	if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		h->chart_js = malloc(len);
		if (h->chart_js && fread(h->chart_js, 1, len, f) == (size_t)len)
			h->chart_len = len;
	}
	if (!h->chart_len)
		p_err("cannot read Chart.js for the HTML page from %s: %s; install it: apt-get "
		      "install libjs-chart.js", path, errno ? strerror(errno) : "empty file");
	if (f)
		fclose(f);
	return h->chart_len ? 0 : -ENOENT;
}

static int html_start(struct sink *s)
{
	struct html_out *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	s->priv = h;
	stack_agg__init(&h->stacks, false);
	errno = 0;
	return read_chart_js(h);
}

static int proc_index(struct html_out *h, const struct sink_event *ev)
{
	struct html_proc *p;
	int i;

	for (i = h->procs.nr - 1; i >= 0; i--)
		if (h->procs.items[i].key == ev->proc && h->procs.items[i].pid == (pid_t)ev->e->pid)
			return i;
	p = vec_push(&h->procs);
	if (!p)
		return -1;
	p->key = ev->proc;
	p->pid = ev->e->pid;
	snprintf(p->comm, sizeof(p->comm), "%.*s", GCBPF_COMM_LEN, ev->e->comm);
	snprintf(p->service, sizeof(p->service), "%s", ev->proc ? ev->proc->id.service : p->comm);
	snprintf(p->cmdline, sizeof(p->cmdline), "%s", ev->proc ? ev->proc->id.cmdline : "");
	return h->procs.nr - 1;
}

static void html_event(struct sink *s, const struct sink_event *ev)
{
	const struct gc_event *e = ev->e;
	struct html_out *h = s->priv;
	int proc = proc_index(h, ev);
	struct html_ev *x = proc >= 0 ? vec_push(&h->evs) : NULL;

	if (ev->stack) {
		h->any_stack = true;
		stack_agg__add(&h->stacks, ev->stack, e->gen, e->ts_stop - e->ts_start);
	}
	if (!x) {
		h->no_memory++;
		return;
	}
	*x = (struct html_ev){ .proc = proc, .gen = e->gen, .reason = e->reason, .ts = e->ts_start,
			       .dur = e->ts_stop - e->ts_start, .collected = e->collected,
			       .uncollectable = e->uncollectable, .heap = e->heap_size,
			       .long_lived = e->long_lived_total, .rss = e->rss };
	h->procs.items[proc].sum_ns += x->dur;
}

/* Text into HTML. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void data_events(struct html_out *h, struct json_writer *w)
{
	__u64 t0 = ~0ULL;
	int i, step = h->evs.nr > HTML_MAX_POINTS ? (h->evs.nr + HTML_MAX_POINTS - 1) /
						     HTML_MAX_POINTS : 1;

	for (i = 0; i < h->evs.nr; i++)
		if (h->evs.items[i].ts < t0)
			t0 = h->evs.items[i].ts;
	jw_uint_field(w, "nevents", h->evs.nr);
	jw_int_field(w, "step", step);
	jw_name(w, "events");
	jw_start_array(w);
	for (i = 0; i < h->evs.nr; i += step) {
		const struct html_ev *x = &h->evs.items[i];
		const char *why = x->reason == 0 ? "heap" : x->reason == 1 ? "shutdown" :
				  x->reason == 2 ? "manual" : NULL;

		jw_start_array(w);
		jw_int(w, x->proc);
		jw_int(w, x->gen);
		jw_decimal(w, x->ts - t0, 9);	/* seconds */
		jw_decimal(w, x->dur, 3);	/* µs */
		jw_int(w, x->collected);
		jw_int(w, x->uncollectable);
		jw_int(w, x->heap);
		jw_int(w, x->long_lived);
		jw_int(w, x->rss);
		if (why)
			jw_string(w, why);
		else
			jw_null(w);
		jw_end_array(w);
	}
	jw_end_array(w);
}

static int by_sum(const void *x, const void *y)
{
	const struct html_proc *a = *(struct html_proc *const *)x, *b = *(struct html_proc *const *)y;

	return (a->sum_ns < b->sum_ns) - (a->sum_ns > b->sum_ns);
}

static void data_procs(struct html_out *h, struct json_writer *w)
{
	struct html_proc **order = calloc(h->procs.nr + 1, sizeof(*order));
	int i;

	for (i = 0; order && i < h->procs.nr; i++)
		order[i] = &h->procs.items[i];
	if (order && h->procs.nr)
		qsort(order, h->procs.nr, sizeof(*order), by_sum);
	jw_name(w, "procs");
	jw_start_array(w);
	for (i = 0; i < h->procs.nr; i++) {
		const struct html_proc *p = &h->procs.items[i];
		bool shown = false;
		int k;

		for (k = 0; order && k < HTML_MAX_PROCS && k < h->procs.nr; k++)
			shown |= order[k] == p;
		jw_start_object(w);
		jw_int_field(w, "pid", p->pid);
		jw_string_field(w, "comm", p->comm);
		jw_string_field(w, "service", p->service);
		jw_string_field(w, "cmdline", p->cmdline);
		jw_bool_field(w, "shown", shown);
		jw_end_object(w);
	}
	jw_end_array(w);
	free(order);
}

static void data_hist_folded(struct html_out *h, struct json_writer *w,
			     const struct sink_report *r)
{
	__u64 slots[HDR_LOG2_SLOTS];
	char frame[1024];
	int i, j;

	jw_name(w, "hist");
	jw_start_array(w);
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];

		if (row->proc || row->gen < 0 || !row->hist)
			continue;
		hdr__log2(row->hist, slots);
		jw_start_object(w);
		jw_int_field(w, "gen", row->gen);
		jw_name(w, "slots");
		jw_start_array(w);
		for (j = 0; j < HDR_LOG2_SLOTS; j++)
			jw_uint(w, slots[j]);
		jw_end_array(w);
		jw_end_object(w);
	}
	jw_end_array(w);
	/* the trigger sites as -f folded names them, weighed by ns */
	jw_name(w, "folded");
	jw_start_array(w);
	for (i = 0; h->any_stack && i < h->stacks.nr; i++) {
		const struct stack_site *site = &h->stacks.sites[i];
		char *name = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&name, &len);

		if (!m)
			continue;
		if (site->unavailable)
			fputs("[no stack]", m);
		else if (site->truncated)
			fputs(site->nr ? "[truncated];" : "[truncated]", m);
		for (j = site->nr - 1; !site->unavailable && j >= 0; j--)
			fprintf(m, "%s%s", stack_agg__frame_name(frame, sizeof(frame),
								 &site->frames[j]), j ? ";" : "");
		if (!site->unavailable && !site->nr && !site->truncated)
			fputs("[no Python frame]", m);
		if (!fclose(m)) {
			jw_start_array(w);
			jw_string(w, name);
			jw_uint(w, site->sum_ns[0] + site->sum_ns[1] + site->sum_ns[2]);
			jw_end_array(w);
		}
		free(name);
	}
	jw_end_array(w);
}

/*
 * --inside: the sampled pause time as -f folded --folded-what inside writes it
 * ("gen N;frames or native function", ns): the inside-the-pause flame graph.
 */
static void data_inside(struct json_writer *w, const struct sink_report *r)
{
	const struct inside_agg *a = r->totals ? r->totals->inside : NULL;
	char *buf = NULL, *line, *save = NULL, *sp;
	size_t len = 0;
	FILE *m;

	jw_name(w, "inside");
	jw_start_array(w);
	m = a ? open_memstream(&buf, &len) : NULL;
	if (m) {
		inside_agg__folded(a, m, 0);
		if (!fclose(m))
			for (line = strtok_r(buf, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				sp = strrchr(line, ' ');
				if (!sp)
					continue;
				*sp = 0;
				jw_start_array(w);
				jw_string(w, line);
				jw_uint(w, strtoull(sp + 1, NULL, 10));
				jw_end_array(w);
			}
		free(buf);
	}
	jw_end_array(w);
}

/* The data, as a JavaScript literal: JSON with every '<' escaped (no "</script>" inside). */
static void write_data(struct html_out *h, FILE *f, const struct sink_report *r)
{
	struct json_writer w;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);

	if (!m) {
		fputs("const GCBPF = null;\n", f);
		return;
	}
	jw_init(&w, m);
	jw_start_object(&w);
	data_procs(h, &w);
	data_events(h, &w);
	data_hist_folded(h, &w, r);
	data_inside(&w, r);
	jw_end_object(&w);
	jw_flush(&w);
	fclose(m);
	fputs("const GCBPF = ", f);
	for (i = 0; i < len; i++)
		if (buf[i] == '<')
			fputs("\\u003c", f);
		else
			fputc(buf[i], f);
	fputs(";\n", f);
	free(buf);
}

static void html_finish(struct sink *s, const struct sink_report *r)
{
	struct html_out *h = s->priv;
	FILE *f = s->f;

	if (!h || !r || !h->chart_len)
		return;
	stack_agg__sort(&h->stacks);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n"
	      "<title>gcbpf: CPython garbage collections</title>\n<style>", f);
	fputs(html_page_style, f);
	fputs("</style></head><body>\n<h1>gcbpf: CPython garbage collections</h1>\n", f);
	html__tables(f, r, h->evs.nr, h->evs.nr > HTML_MAX_POINTS ?
		     (h->evs.nr + HTML_MAX_POINTS - 1) / HTML_MAX_POINTS : 1, h->no_memory);
	fputs("<h2>Pauses over time</h2>\n<div id=\"timelines\"></div>\n"
	      "<h2>Memory over time</h2>\n<div id=\"memory\"></div>\n"
	      "<h2>Pause histograms per generation</h2>\n<div id=\"hists\"></div>\n"
	      "<h2>Trigger sites (flame graph: total pause, outermost frame on top)</h2>\n"
	      "<div id=\"flame\"></div>\n"
	      "<h2>Inside the pauses (flame graph: sampled pause time, generation on top)</h2>\n"
	      "<div id=\"inside\"></div>\n<script>\n", f);
	fwrite(h->chart_js, 1, h->chart_len, f);
	fputs("\n</script>\n<script>\n", f);
	write_data(h, f, r);
	fputs(html_page_script, f);
	fputs("</script>\n</body></html>\n", f);
}

static void html_free(struct sink *s)
{
	struct html_out *h = s->priv;

	if (h) {
		stack_agg__free(&h->stacks);
		vec_free(&h->evs);
		vec_free(&h->procs);
		free(h->chart_js);
	}
	free(h);
	s->priv = NULL;
}

const struct sink_ops html_sink = {
	.name = "html",
	.machine = true,
	.aggregates = true,
	.start = html_start,
	.event = html_event,
	.finish = html_finish,
	.free = html_free,
};

void html__escape(FILE *f, const char *s)
{
	esc(f, s);
}
