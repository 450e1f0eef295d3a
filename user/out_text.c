// SPDX-License-Identifier: GPL-2.0
/* -f text: one line per collection, wall-clock time first, flushed per batch. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "clock.h"
#include "sink.h"
#include "text.h"

struct text_out {
	__s64 mono_to_real_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, for wall-clock times */
	unsigned long lines;
};

static int text_start(struct sink *s)
{
	struct text_out *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->mono_to_real_ns = (__s64)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	s->priv = t;
	return 0;
}

static void text_event(struct sink *s, const struct sink_event *ev)
{
	const struct gc_event *e = ev->e;
	struct text_out *t = s->priv;
	__s64 real = (__s64)e->ts_start + t->mono_to_real_ns;
	time_t sec = real / 1000000000;
	char when[16], comm[4 * GCBPF_COMM_LEN + 1], pause[24], who[4 * IDENTITY_NAME_LEN + 1];
	struct tm tm;

	if (t->lines++ == 0)
		fprintf(s->f, "%-12s %-7s %-7s %-15s %3s %10s %9s %6s %s\n", "TIME", "PID", "TID",
			"COMM", "GEN", "PAUSE", "COLLECTED", "UNCOLL", "SERVICE");
	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(s->f, "%s.%03lld %-7u %-7u %-15s %3d %10s ", when,
		(long long)(real % 1000000000 / 1000000), e->pid, e->tid,
		text__escape(comm, sizeof(comm), e->comm, sizeof(e->comm)), e->gen,
		text__duration(pause, sizeof(pause), e->ts_stop - e->ts_start));
	if (e->flags & GC_EV_READ_ERROR)
		fprintf(s->f, "%9s %6s", "?", "?");
	else
		fprintf(s->f, "%9lld %6lld", (long long)e->collected, (long long)e->uncollectable);
	/* Who it is, compactly: the unit, else the command (script or module and its args). */
	if (ev->proc)
		text__escape(who, 25, ev->proc->id.unit[0] ? ev->proc->id.unit : ev->proc->id.short_cmd,
			     IDENTITY_NAME_LEN);
	fprintf(s->f, " %s\n", ev->proc ? who : "-");
}

static void text_free(struct sink *s)
{
	free(s->priv);
	s->priv = NULL;
}

const struct sink_ops text_sink = {
	.name = "text",
	.start = text_start,
	.event = text_event,
	.free = text_free,
};
