// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "out/output.h"

/* The event formats: a new one is its out_*.c file and a line here. */
static const struct sink_ops *const formats[] = {
	&text_sink,
	&jsonl_sink,
	&chrome_sink,
	&folded_sink,
	&html_sink,
};

#define NR_FORMATS (sizeof(formats) / sizeof(formats[0]))

const struct sink_ops *output__format(const char *name)
{
	size_t i;

	for (i = 0; i < NR_FORMATS; i++)
		if (!strcmp(name, formats[i]->name) ||
		    (formats[i]->alias && !strcmp(name, formats[i]->alias)))
			return formats[i];
	return NULL;
}

const char *output__format_names(void)
{
	static char names[128];
	size_t i, n = 0;

	if (names[0])
		return names;
	for (i = 0; i < NR_FORMATS; i++)
		n += snprintf(names + n, sizeof(names) - n, "%s%s", formats[i]->name,
			      i + 2 < NR_FORMATS ? ", " : i + 1 < NR_FORMATS ? " or " : "");
	return names;
}

static int add_sink(struct outputs *o, const struct sink_ops *ops, FILE *f, struct totals *t)
{
	struct sink *s = &o->sinks[o->nr];
	int err;

	*s = (struct sink){ .ops = ops, .f = f, .cfg = &o->cfg, .totals = t };
	o->nr++;
	err = ops->start ? ops->start(s) : 0;
	if (err == -ENOMEM)
		p_err("cannot start the %s output: out of memory", ops->name);
	return err;
}

/*
 * stdout or stderr as the events' stream: fully buffered like a file (it is
 * written out at every poll, outputs__flush), not a write(2) per line on a
 * terminal or per character on stderr. The buffer lives as long as the
 * stream: stdio writes it out at exit.
 */
static void buffer_std_stream(FILE *f)
{
	static char *bufs[2];
	char **b = &bufs[f == stderr];

	if (*b || (*b = malloc(OUTPUT_BUF_SIZE)))
		setvbuf(f, *b, _IOFBF, OUTPUT_BUF_SIZE);
}

int outputs__open(struct outputs *o, const struct output_opts *opts, struct totals *t)
{
	const struct sink_ops *fmt = opts->format ? opts->format : &text_sink;
	bool to_file = opts->path && strcmp(opts->path, "-");
	int err;

	memset(o, 0, sizeof(*o));
	o->cfg = opts->cfg;
	if (to_file) {
		err = outfile__open(&o->file, opts->path);
		if (err)
			return err;
		o->events_f = o->file.f;
		o->own_events_f = true;
		o->events_name = opts->path;
	} else {
		/* As strace and perf do: the command's stdout stays its own. */
		o->events_f = opts->launch ? stderr : stdout;
		o->events_name = opts->launch ? "stderr" : "stdout";
		if (!o->cfg.top)	/* top draws the terminal itself */
			buffer_std_stream(o->events_f);
	}
	/* Human text follows text events, and goes where machine events do not. */
	if (!fmt->machine)
		o->human_f = o->events_f;
	else if (to_file)
		o->human_f = opts->launch ? stderr : stdout;
	else
		o->human_f = o->events_f == stdout ? stderr : NULL;

	if (o->cfg.top) {
		/* The terminal is top's: no stream beside it. Events only for its
		 * trigger sites (--stacks); else the kernel's totals suffice. */
		o->cfg.quiet = !o->cfg.by_stack;
		err = add_sink(o, &top_sink, stdout, t);
		if (!err && o->cfg.prometheus)
			err = add_sink(o, &prometheus_sink, NULL, t);
		if (err)
			outputs__close(o, NULL, 0);
		return err;
	}
	err = add_sink(o, fmt, o->events_f, t);
	if (!err && o->human_f)
		err = add_sink(o, &table_sink, o->human_f, t);
	if (!err && o->human_f && o->cfg.hist != HIST_NONE)
		err = add_sink(o, &hist_sink, o->human_f, t);
	if (!err && o->human_f && o->cfg.by_stack)
		err = add_sink(o, &bystack_sink, o->human_f, t);
	if (!err && o->human_f && o->cfg.inside_hz)
		err = add_sink(o, &inside_sink, o->human_f, t);
	if (!err && o->human_f && o->cfg.advice)
		err = add_sink(o, &advice_sink, o->human_f, t);
	if (!err && o->cfg.prometheus)
		err = add_sink(o, &prometheus_sink, NULL, t);
	if (err)
		outputs__close(o, NULL, 0);
	return err;
}

bool outputs__idle(struct outputs *o)
{
	bool end = false;
	int i;

	for (i = 0; i < o->nr; i++)
		if (o->sinks[i].ops->idle)
			end |= o->sinks[i].ops->idle(&o->sinks[i]);
	return end;
}

bool outputs__want_events(const struct outputs *o)
{
	int i;

	/* the advice's fits (trace/growth.h) are made of every event, also with -q */
	if (o->cfg.advice || o->cfg.top)
		return true;
	for (i = 0; i < o->nr; i++)
		if (o->sinks[i].ops->event && (o->sinks[i].ops->aggregates || (!o->cfg.quiet && !i)))
			return true;
	return false;
}

void outputs__event(struct outputs *o, const struct sink_event *ev)
{
	int i;

	/* -q: no per-event output; sinks that only aggregate still count it. */
	for (i = 0; i < o->nr; i++) {
		struct sink *s = &o->sinks[i];

		if (s->ops->event && (s->ops->aggregates || (!o->cfg.quiet && i == 0)))
			s->ops->event(s, ev);
	}
}

/* Every write error is an error: said once, with where. */
static int check_stream(struct outputs *o, FILE *f, const char *name)
{
	if (!f || (!ferror(f) && !fflush(f)))
		return 0;
	if (!o->write_failed)
		p_err("cannot write the output to %s: %s", name,
		      errno ? strerror(errno) : "write error");
	o->write_failed = true;
	return -EIO;
}

int outputs__flush(struct outputs *o)
{
	int i, err;

	for (i = 0; i < o->nr; i++)
		if (o->sinks[i].ops->flush)
			o->sinks[i].ops->flush(&o->sinks[i]);
	err = o->own_events_f ? outfile__flush(&o->file) : check_stream(o, o->events_f,
									o->events_name);

	if (err)
		o->write_failed = true;	/* said by outfile */

	if (o->human_f && o->human_f != o->events_f)
		err = check_stream(o, o->human_f, o->human_f == stdout ? "stdout" : "stderr") ?: err;
	return err;
}

static void report_all(struct outputs *o, struct totals *t, bool interval, __u64 wall_ns,
		       __u64 run_ns, bool final)
{
	struct pause_rows rows;
	struct sink_report r = { .totals = t, .rows = &rows, .interval = interval,
				 .wall_ns = wall_ns, .run_ns = run_ns };
	int i;

	if (totals__rows(t, interval, &rows)) {
		p_warn("no memory for the pause report");
		return;
	}
	for (i = 0; i < o->nr; i++) {
		struct sink *s = &o->sinks[i];

		if (final && s->ops->finish)
			s->ops->finish(s, &r);
		else if (!final && s->ops->report)
			s->ops->report(s, &r);
	}
	pause_rows__free(&rows);
}

void outputs__report(struct outputs *o, struct totals *t, __u64 wall_ns, __u64 run_ns)
{
	report_all(o, t, true, wall_ns, run_ns, false);
	outputs__flush(o);
}

int outputs__close(struct outputs *o, struct totals *t, __u64 wall_ns)
{
	int i, err;

	if (t) {
		report_all(o, t, false, wall_ns, wall_ns, true);
	} else {
		for (i = 0; i < o->nr; i++)
			if (o->sinks[i].ops->finish)
				o->sinks[i].ops->finish(&o->sinks[i], NULL);
	}
	err = outputs__flush(o);
	for (i = 0; i < o->nr; i++)
		if (o->sinks[i].ops->free)
			o->sinks[i].ops->free(&o->sinks[i]);
	o->nr = 0;
	if (o->own_events_f)
		err = outfile__close(&o->file) ?: err;
	o->own_events_f = false;
	o->events_f = NULL;
	return err;
}
