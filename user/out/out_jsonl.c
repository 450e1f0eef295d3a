// SPDX-License-Identifier: GPL-2.0
/*
 * -f jsonl: one JSON object per line and nothing else: a record per
 * collection (gcmon's names), {"type":"stats"} rows for --stats reports,
 * {"type":"summary"} rows per process and generation and one
 * {"type":"counters"} line at the end. A {"type":"process"} record comes
 * before a process's first collection (again after it exec'd), or at the
 * end for one that ran collections untimed and none since.
 */
#include <errno.h>
#include <stdlib.h>
#include "python/gc_reason.h"
#include "trace/hdr.h"
#include "out/advice.h"
#include "out/json_writer.h"
#include "python/pystack.h"
#include "trace/inside.h"
#include "out/sink.h"
#include "util/vec.h"

/* An event's "python", "probe" and "binary": the same for every event of a build through a
 * probe, so escaped once (a path escaped per event was ~10% of the sink's CPU). */
struct build_fields {
	const struct py_build *build;
	__u8 probe;
	char *text;	/* "python":...,"binary":..., rendered by build_fields() */
	size_t len;
};

/* A process whose record was written, for that image (proc_totals.image). */
struct described {
	pid_t pid;
	int image;
};

struct jsonl_out {
	VEC(struct described) described;
	VEC(struct build_fields) builds;	/* builds live as long as the tracer */
	/* Records held until the poll's flush: one stdio call per ~30 records, not per record.
	 * The stream is this sink's alone (a machine format). */
	struct json_writer w;
};

static int jsonl_start(struct sink *s)
{
	struct jsonl_out *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	jw_init(&j->w, s->f);
	s->priv = j;
	return 0;
}

static void jsonl_flush(struct sink *s)
{
	struct jsonl_out *j = s->priv;

	jw_flush(&j->w);
}

static void jsonl_free(struct sink *s)
{
	struct jsonl_out *j = s->priv;

	if (j) {
		for (int i = 0; i < j->builds.nr; i++)
			free(j->builds.items[i].text);
		vec_free(&j->builds);
		vec_free(&j->described);
	}
	free(j);
	s->priv = NULL;
}

/* cmdline, unit, container, service: null where there is none. */
static void identity_fields(struct json_writer *w, const struct proc_totals *p)
{
	const struct identity *id = &p->id;

	jw_string_or_null_field(w, "cmdline", id->cmdline[0] ? id->cmdline : NULL);
	jw_string_or_null_field(w, "unit", id->unit[0] ? id->unit : NULL);
	jw_string_or_null_field(w, "container", id->container[0] ? id->container : NULL);
	jw_string_field(w, "service", id->service);
}

/* True the first time p's image is seen (a repeated record when out of memory is harmless). */
static bool first_time(struct jsonl_out *j, const struct proc_totals *p)
{
	struct described *d;
	int i;

	for (i = j->described.nr - 1; i >= 0; i--) {
		d = &j->described.items[i];
		if (d->pid != p->pid)
			continue;
		if (d->image == p->image)
			return false;
		d->image = p->image;
		return true;
	}
	d = vec_push(&j->described);
	if (d)
		*d = (struct described){ p->pid, p->image };
	return true;
}

/*
 * "collections_before": what the image ran before gcbpf armed it, per
 * generation ([0,0,0]: armed before it started); null, with the reason,
 * when its memory could not be read.
 */
static void before_fields(struct json_writer *w, const struct proc_totals *p)
{
	const struct gc_counts *c = &p->before;
	int g;

	if (c->state == GC_COUNTS_UNKNOWN) {
		jw_null_field(w, "collections_before");
		jw_string_field(w, "collections_before_unknown", c->why);
		return;
	}
	jw_name(w, "collections_before");
	jw_start_array(w);
	for (g = 0; g < 3; g++)
		jw_int(w, c->state == GC_COUNTS_READ ? c->collections[g] : 0);
	jw_end_array(w);
}

/* Who the process is, once per image, before its first collection: what does not vary per
 * event. */
static void process_record(struct json_writer *w, const struct proc_totals *p)
{
	jw_start_object(w);
	jw_string_field(w, "type", "process");
	jw_int_field(w, "pid", p->pid);
	jw_name(w, "comm");
	jw_string_n(w, p->comm, sizeof(p->comm));
	identity_fields(w, p);
	before_fields(w, p);
	jw_end_object(w);
	jw_end_line_held(w);
}

/*
 * --stacks: "stack":[{"func","file","line"}...] innermost first, or null;
 * an unknown frame has nulls, in place; "stack_truncated", "stack_unknown".
 */
static void frames_array(struct json_writer *w, const struct py_frame_sym *frames, int nr)
{
	int i;

	jw_name(w, "stack");
	jw_start_array(w);
	for (i = 0; i < nr; i++) {
		jw_start_object(w);
		if (!frames[i].func) {
			jw_null_field(w, "func");
			jw_null_field(w, "file");
		} else {
			jw_string_field(w, "func", frames[i].func);
			jw_string_field(w, "file", frames[i].file);
		}
		if (frames[i].line < 0)
			jw_null_field(w, "line");
		else
			jw_int_field(w, "line", frames[i].line);
		jw_end_object(w);
	}
	jw_end_array(w);
}

static void stack_fields(struct json_writer *w, const struct py_stack *st)
{
	if (st->unavailable) {
		jw_null_field(w, "stack");
		return;
	}
	frames_array(w, st->frames, st->nr);
	jw_bool_field(w, "stack_truncated", st->truncated);
	jw_int_field(w, "stack_unknown", st->unknown);
}

/*
 * --inside: "inside":{"samples":N,"python":[{"stack":[...],"stack_truncated",
 * "samples":n}],"native":[{"func","binary","samples":n}]}, most samples
 * first; null when the pause got no sample.
 */
static void inside_fields(struct json_writer *w, const struct inside_event *in)
{
	int i;

	if (!in->samples) {
		jw_null_field(w, "inside");
		return;
	}
	jw_name(w, "inside");
	jw_start_object(w);
	jw_int_field(w, "samples", in->samples);
	jw_name(w, "python");
	jw_start_array(w);
	for (i = 0; i < in->python.nr; i++) {
		const struct inside_stack *st = &in->python.items[i];

		jw_start_object(w);
		frames_array(w, st->s->frames, st->s->nr);
		jw_bool_field(w, "stack_truncated", st->s->truncated);
		jw_int_field(w, "samples", st->samples);
		jw_end_object(w);
	}
	jw_end_array(w);
	jw_name(w, "native");
	jw_start_array(w);
	for (i = 0; i < in->native.nr; i++) {
		const struct inside_func *f = &in->native.items[i];

		jw_start_object(w);
		jw_string_field(w, "func", f->sym->func);
		jw_string_or_null_field(w, "binary", f->sym->binary);
		jw_int_field(w, "samples", f->samples);
		jw_end_object(w);
	}
	jw_end_array(w);
	jw_end_object(w);
}

static void build_fields(struct jw_run *r, const struct py_build *b, __u8 probe)
{
	jw_run_string(r, "python", b ? b->version : NULL, SIZE_MAX);
	jw_run_string(r, "probe", py_build__probe_name(probe), SIZE_MAX);
	jw_run_string(r, "binary", b ? b->display_path : NULL, SIZE_MAX);
}

/* build_fields() as text, kept; NULL when out of memory (written field by field then). */
static const struct build_fields *build_fields_text(struct jsonl_out *j, const struct py_build *b,
						    __u8 probe)
{
	struct build_fields *c;
	struct json_writer *w;
	struct jw_run r;
	FILE *f;
	int i;

	for (i = j->builds.nr - 1; i >= 0; i--)
		if (j->builds.items[i].build == b && j->builds.items[i].probe == probe)
			return &j->builds.items[i];
	w = malloc(sizeof(*w));
	c = w ? vec_push(&j->builds) : NULL;
	if (!c) {
		free(w);
		return NULL;
	}
	*c = (struct build_fields){ .build = b, .probe = probe };
	f = open_memstream(&c->text, &c->len);
	if (f) {
		jw_init(w, f);
		jw_run_begin(&r, w);
		build_fields(&r, b, probe);
		jw_run_end(&r);
		jw_flush(w);
		if (fclose(f)) {
			free(c->text);
			c->text = NULL;
		}
	}
	free(w);
	if (!c->text) {
		j->builds.nr--;
		return NULL;
	}
	return c;
}

static void jsonl_event(struct sink *s, const struct sink_event *ev)
{
	const struct gc_event *e = ev->e;
	const struct py_build *b = ev->build;
	__u64 ns = e->ts_stop - e->ts_start;
	struct jsonl_out *j = s->priv;
	struct json_writer *w = &j->w;
	const struct build_fields *fields;
	struct jw_run r;

	if (ev->proc && first_time(j, ev->proc))
		process_record(w, ev->proc);
	jw_start_object(w);
	jw_run_begin(&r, w);
	jw_run_uint(&r, "pid", e->pid);
	jw_run_uint(&r, "tid", e->tid);
	jw_run_string(&r, "comm", e->comm, sizeof(e->comm));
	jw_run_count(&r, "iid", e->iid);
	jw_run_int(&r, "gen", e->gen);
	jw_run_string(&r, "reason", gc_reason__name(e->reason), SIZE_MAX);
	jw_run_uint(&r, "ts_start", e->ts_start);
	jw_run_uint(&r, "ts_stop", e->ts_stop);
	jw_run_uint(&r, "duration_ns", ns);
	jw_run_decimal(&r, "duration", ns, 6);	/* ms, exact: what "%.6f" of ns / 1e6 printed */
	jw_run_count(&r, "collected", e->collected);
	jw_run_count(&r, "uncollectable", e->uncollectable);
	jw_run_count(&r, "heap_size", e->heap_size);
	jw_run_count(&r, "long_lived_total", e->long_lived_total);
	jw_run_count(&r, "long_lived_pending", e->long_lived_pending);
	jw_run_count(&r, "candidates", e->candidates);
	jw_run_count(&r, "collections", e->collections);
	fields = build_fields_text(j, b, e->probe);
	if (fields)
		jw_run_raw(&r, fields->text, fields->len);
	else
		build_fields(&r, b, e->probe);
	jw_run_uint(&r, "cgroup", e->cgroup_id);
	jw_run_count(&r, "rss", e->rss);
	jw_run_end(&r);
	if (ev->stack)
		stack_fields(w, ev->stack);
	if (ev->inside)
		inside_fields(w, ev->inside);
	jw_end_object(w);
	jw_end_line_held(w);
}

/* {"type":"stats",...}: one row of a --stats report. */
static void stats_row(struct json_writer *w, const struct pause_row *r, const struct sink_report *rep)
{
	const struct gen_totals *t = &r->t;
	int i;

	jw_start_object(w);
	jw_string_field(w, "type", "stats");
	if (r->proc) {
		jw_int_field(w, "pid", r->proc->pid);
		jw_name(w, "comm");
		jw_string_n(w, r->proc->comm, sizeof(r->proc->comm));
		jw_string_field(w, "service", r->proc->id.service);
	} else {
		jw_null_field(w, "pid");
		jw_null_field(w, "comm");
		jw_null_field(w, "service");
	}
	if (r->gen >= 0)
		jw_int_field(w, "gen", r->gen);
	else
		jw_string_field(w, "gen", "all");
	jw_bool_field(w, "interval", rep->interval);
	jw_uint_field(w, "wall_ns", rep->wall_ns);
	jw_uint_field(w, "count", t->count);
	jw_uint_field(w, "sum_ns", t->sum_ns);
	jw_float_field(w, "mean_ns", (double)t->sum_ns / t->count, 1);
	for (i = 0; i < SINK_NQ; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%s_ns", sink_qnames[i]);
		jw_name(w, name);
		if (r->hist)
			jw_uint(w, hdr__percentile(r->hist, sink_quantiles[i]));
		else
			jw_null(w);	/* a retired process keeps no buckets */
	}
	jw_uint_field(w, "max_ns", t->max_ns);
	jw_float_field(w, "gc_share", rep->wall_ns ? (double)t->sum_ns / rep->wall_ns : 0.0, 6);
	jw_uint_field(w, "collected", t->collected);
	jw_uint_field(w, "uncollectable", t->uncollectable);
	if (r->proc && r->gen < 0) {
		/* memory, as of the process's last collection */
		jw_count_field(w, "heap_size", r->proc->heap_size);
		jw_count_field(w, "long_lived_total", r->proc->long_lived_total);
		jw_count_field(w, "rss", r->proc->rss);
	}
	jw_end_object(w);
	jw_end_line(w);
}

static void stats_rows(struct sink *s, const struct sink_report *r)
{
	struct jsonl_out *j = s->priv;
	int i;

	for (i = 0; s->cfg->stats && i < r->rows->nr; i++)
		stats_row(&j->w, &r->rows->rows[i], r);
}

/* --advice: {"type":"advice"} per process, its items and the fits behind them. */
static void advice_record(struct json_writer *w, const struct proc_totals *p,
			  const struct sink_report *r)
{
	struct advice a = {};

	advice__for_process(&a, p, r->rows, r->run_ns);
	jw_start_object(w);
	jw_string_field(w, "type", "advice");
	jw_int_field(w, "pid", p->pid);
	jw_name(w, "comm");
	jw_string_n(w, p->comm, sizeof(p->comm));
	identity_fields(w, p);
	advice__json(w, p, &a);
	jw_end_object(w);
	jw_end_line(w);
	advice__free(&a);
}

static void jsonl_finish(struct sink *s, const struct sink_report *r)
{
	struct jsonl_out *j = s->priv;
	struct json_writer *w = &j->w;
	const __u64 *c;
	int i;

	if (!r)
		return;
	/* Untimed collections are said even if none was timed after. */
	for (i = 0; i < r->totals->procs.nr; i++) {
		const struct proc_totals *p = &r->totals->procs.items[i];

		if (p->id.matched && p->before.state != GC_COUNTS_NONE && first_time(j, p))
			process_record(w, p);
	}
	stats_rows(s, r);
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];

		if (!row->proc || row->gen < 0)
			continue;
		jw_start_object(w);
		jw_string_field(w, "type", "summary");
		jw_int_field(w, "pid", row->proc->pid);
		jw_name(w, "comm");
		jw_string_n(w, row->proc->comm, sizeof(row->proc->comm));
		identity_fields(w, row->proc);
		jw_int_field(w, "gen", row->gen);
		jw_uint_field(w, "count", row->t.count);
		jw_uint_field(w, "total_ns", row->t.sum_ns);
		jw_uint_field(w, "max_ns", row->t.max_ns);
		jw_uint_field(w, "collected", row->t.collected);
		jw_uint_field(w, "uncollectable", row->t.uncollectable);
		jw_end_object(w);
		jw_end_line(w);
	}
	for (i = 0; s->cfg->advice && i < r->rows->nr; i++)
		if (r->rows->rows[i].proc && r->rows->rows[i].gen < 0)
			advice_record(w, r->rows->rows[i].proc, r);
	c = r->totals->counters;
	jw_start_object(w);
	jw_string_field(w, "type", "counters");
	jw_uint_field(w, "lost", c[GC_CNT_LOST]);
	jw_uint_field(w, "read_errors", c[GC_CNT_READ_ERRORS]);
	jw_uint_field(w, "no_entry", c[GC_CNT_NO_ENTRY]);
	jw_uint_field(w, "hist_full", c[GC_CNT_HIST_FULL]);
	jw_uint_field(w, "proc_lost", c[GC_CNT_PROC_LOST]);
	jw_uint_field(w, "ring_stale", c[GC_CNT_RING_STALE]);
	jw_uint_field(w, "foreign", c[GC_CNT_FOREIGN]);
	jw_uint_field(w, "foreign_execs", c[GC_CNT_FOREIGN_EXEC]);
	jw_uint_field(w, "entry_reads", c[GC_CNT_ENTRY_READS]);
	jw_uint_field(w, "stale", c[GC_CNT_STALE]);
	jw_uint_field(w, "unattributed", c[GC_CNT_UNATTRIBUTED]);
	jw_uint_field(w, "code_records", c[GC_CNT_CODE_SENT]);
	jw_uint_field(w, "code_records_lost", c[GC_CNT_CODE_LOST]);
	jw_uint_field(w, "before_unknown", r->totals->before_unknown);
	/* the time traced: gcbpf report's GC share and rates */
	jw_uint_field(w, "wall_ns", r->wall_ns);
	jw_end_object(w);
	jw_end_line(w);
}

const struct sink_ops jsonl_sink = {
	.name = "jsonl",
	.alias = "json",
	.machine = true,
	.start = jsonl_start,
	.event = jsonl_event,
	.report = stats_rows,
	.finish = jsonl_finish,
	.flush = jsonl_flush,
	.free = jsonl_free,
};
