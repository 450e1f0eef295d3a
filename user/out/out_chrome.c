// SPDX-License-Identifier: GPL-2.0
/*
 * -f chrome: the Trace Event Format that ui.perfetto.dev and chrome://tracing
 * open. One track per process and thread, an "X" slice per collection, a
 * heap counter track per process, process and thread names ("M").
 * "{"traceEvents":[" is written at the start and "]}" at the finish, which
 * gcbpf reaches on every exit path, so the file is valid JSON even after
 * Ctrl-C or an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "python/gc_reason.h"
#include "out/json_writer.h"
#include "out/sink.h"
#include "trace/inside.h"
#include "trace/stack_agg.h"
#include "util/vec.h"

struct chrome_out {
	struct json_writer w;	/* inside the traceEvents array */
	VEC(__u32) named;	/* pids (high bit set) and tids already named */
};

static int chrome_start(struct sink *s)
{
	struct chrome_out *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	s->priv = c;
	jw_init(&c->w, s->f);
	jw_start_object(&c->w);
	jw_string_field(&c->w, "displayTimeUnit", "ms");
	jw_name(&c->w, "traceEvents");
	jw_start_array(&c->w);
	jw_newline(&c->w);
	fflush(s->f);
	return 0;
}

/* True the first time id is seen. */
static bool first_time(struct chrome_out *c, __u32 id)
{
	__u32 *slot;
	int i;

	for (i = c->named.nr - 1; i >= 0; i--)
		if (c->named.items[i] == id)
			return false;
	slot = vec_push(&c->named);
	if (slot)
		*slot = id;
	return true;	/* out of memory: a repeated name is harmless */
}

static void meta(struct chrome_out *c, const char *what, __u32 pid, __u32 tid,
		 const char *name)
{
	jw_start_object(&c->w);
	jw_string_field(&c->w, "name", what);
	jw_string_field(&c->w, "ph", "M");
	jw_uint_field(&c->w, "pid", pid);
	jw_uint_field(&c->w, "tid", tid);
	jw_name(&c->w, "args");
	jw_start_object(&c->w);
	jw_string_field(&c->w, "name", name);
	jw_end_object(&c->w);
	jw_end_object(&c->w);
	jw_newline(&c->w);
}

/* Trace Event Format times are µs: ns with three decimals, exact. */
static void us_field(struct json_writer *w, const char *name, __u64 ns)
{
	jw_name(w, name);
	jw_decimal(w, ns, 3);
}

/* What a sample shows as: its innermost Python frame, else its native function. */
static const char *sample_name(char *buf, size_t len, const struct inside_sample *x)
{
	if (x->nr)
		return stack_agg__frame_name(buf, len, &x->frames[0]);
	snprintf(buf, len, "%s", x->native.func);
	return buf;
}

/*
 * --inside: the pause's samples as slices nested in its GC slice, a run of
 * samples with the same name as one slice; a sample stands for the period
 * before it.
 */
static void chrome_samples(struct json_writer *w, const struct gc_event *e,
			   const struct inside_event *in, unsigned int hz)
{
	__u64 period = 1000000000ULL / (hz ? hz : 1), from, to;
	char name[1024], next[1024];
	int i, j, k;

	for (i = 0; i < (int)in->samples; i = j) {
		const struct inside_sample *x = &in->all[i];

		sample_name(name, sizeof(name), x);
		for (j = i + 1; j < (int)in->samples; j++)
			if (strcmp(sample_name(next, sizeof(next), &in->all[j]), name))
				break;
		from = x->ts > e->ts_start + period ? x->ts - period : e->ts_start;
		to = in->all[j - 1].ts < e->ts_stop ? in->all[j - 1].ts : e->ts_stop;
		jw_start_object(w);
		jw_string_field(w, "name", name);
		jw_string_field(w, "cat", "gc.sample");
		jw_string_field(w, "ph", "X");
		us_field(w, "ts", from);
		us_field(w, "dur", to > from ? to - from : 0);
		jw_uint_field(w, "pid", e->pid);
		jw_uint_field(w, "tid", e->tid);
		jw_name(w, "args");
		jw_start_object(w);
		jw_int_field(w, "samples", j - i);
		jw_string_field(w, "native", x->native.func);
		if (x->nr) {
			jw_name(w, "python");
			jw_start_array(w);
			for (k = 0; k < x->nr; k++)
				jw_string(w, stack_agg__frame_name(next, sizeof(next), &x->frames[k]));
			jw_end_array(w);
		}
		jw_end_object(w);
		jw_end_object(w);
		jw_newline(w);
	}
}

static void chrome_event(struct sink *s, const struct sink_event *ev)
{
	const struct gc_event *e = ev->e;
	const char *python = ev->build ? ev->build->version : NULL;
	struct chrome_out *c = s->priv;
	struct json_writer *w = &c->w;
	char comm[GCBPF_COMM_LEN + 1], name[96];
	__s64 heap = -1;
	__u64 ts = e->ts_start;
	const char *counter = NULL;

	snprintf(comm, sizeof(comm), "%.*s", GCBPF_COMM_LEN, e->comm);
	if (first_time(c, e->pid | 0x80000000u)) {
		/* The service and its command line name the process track. */
		const char *who = !ev->proc ? NULL : ev->proc->id.unit[0] ? ev->proc->id.unit
									  : ev->proc->id.short_cmd;
		char full[2 * IDENTITY_NAME_LEN + 64];

		snprintf(full, sizeof(full), "%s%s%s%s%s%s", who ? who : comm, who ? " (" : "",
			 who ? comm : "", python ? (who ? ", Python " : " (Python ") : "",
			 python ? python : "", who || python ? ")" : "");
		meta(c, "process_name", e->pid, e->pid, full);
	}
	if (first_time(c, e->tid))
		meta(c, "thread_name", e->pid, e->tid, comm);

	snprintf(name, sizeof(name), "GC gen %d", e->gen);
	jw_start_object(w);
	jw_string_field(w, "name", name);
	jw_string_field(w, "cat", "gc");
	jw_string_field(w, "ph", "X");
	us_field(w, "ts", e->ts_start);
	us_field(w, "dur", e->ts_stop - e->ts_start);
	jw_uint_field(w, "pid", e->pid);
	jw_uint_field(w, "tid", e->tid);
	jw_name(w, "args");
	jw_start_object(w);
	jw_int_field(w, "generation", e->gen);
	if (e->flags & GC_EV_READ_ERROR) {
		jw_null_field(w, "collected");
		jw_null_field(w, "uncollectable");
	} else {
		jw_count_field(w, "collected", e->collected);
		jw_count_field(w, "uncollectable", e->uncollectable);
	}
	jw_count_field(w, "heap_size", e->heap_size);
	jw_count_field(w, "long_lived_total", e->long_lived_total);
	jw_string_or_null_field(w, "reason", gc_reason__name(e->reason));
	jw_uint_field(w, "ts_start_ns", e->ts_start);
	if (ev->stack && !ev->stack->unavailable) {
		/* what triggered it, innermost first: shown with the slice */
		char frame[1024];
		int i;

		jw_name(w, "stack");
		jw_start_array(w);
		for (i = 0; i < ev->stack->nr; i++)
			jw_string(w, stack_agg__frame_name(frame, sizeof(frame), &ev->stack->frames[i]));
		jw_end_array(w);
		jw_bool_field(w, "stack_truncated", ev->stack->truncated);
	}
	if (ev->inside)
		jw_int_field(w, "samples", ev->inside->samples);
	jw_end_object(w);
	jw_end_object(w);
	jw_newline(w);
	if (ev->inside)
		chrome_samples(w, e, ev->inside, s->cfg->inside_hz);

	/* The heap counter: tracked objects at the start (3.14+), else the
	 * objects that survived the last full collection, after this one. */
	if (e->heap_size >= 0) {
		counter = "heap_size";
		heap = e->heap_size;
	} else if (e->long_lived_total >= 0) {
		counter = "long_lived_total";
		heap = e->long_lived_total;
		ts = e->ts_stop;
	}
	if (e->rss >= 0) {
		/* resident memory after the collection */
		jw_start_object(w);
		jw_string_field(w, "name", "rss_bytes");
		jw_string_field(w, "ph", "C");
		us_field(w, "ts", e->ts_stop);
		jw_uint_field(w, "pid", e->pid);
		jw_name(w, "args");
		jw_start_object(w);
		jw_int_field(w, "bytes", e->rss);
		jw_end_object(w);
		jw_end_object(w);
		jw_newline(w);
	}
	if (!counter)
		return;
	jw_start_object(w);
	jw_string_field(w, "name", counter);
	jw_string_field(w, "ph", "C");
	us_field(w, "ts", ts);
	jw_uint_field(w, "pid", e->pid);
	jw_name(w, "args");
	jw_start_object(w);
	jw_int_field(w, "objects", heap);
	jw_end_object(w);
	jw_end_object(w);
	jw_newline(w);
}

static void chrome_finish(struct sink *s, const struct sink_report *r)
{
	struct chrome_out *c = s->priv;

	if (!c)
		return;		/* never started */
	jw_end_array(&c->w);
	jw_end_object(&c->w);
	jw_end_line(&c->w);
}

static void chrome_free(struct sink *s)
{
	struct chrome_out *c = s->priv;

	if (c)
		vec_free(&c->named);
	free(c);
	s->priv = NULL;
}

const struct sink_ops chrome_sink = {
	.name = "chrome",
	.alias = "perfetto",
	.machine = true,
	.start = chrome_start,
	.event = chrome_event,
	.finish = chrome_finish,
	.free = chrome_free,
};
