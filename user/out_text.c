// SPDX-License-Identifier: GPL-2.0
/*
 * -f text: a line per collection, wall-clock time first, flushed per batch;
 * by default (live) only pauses of at least the threshold, and per interval
 * a line per process that collected.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * The default live view: per interval, one line per process that collected,
 * exact (the kernel's counts), so a busy host prints a line per service per
 * second instead of thousands.
 */
static void text_report(struct sink *s, const struct sink_report *r)
{
	char when[16], comm[4 * GCBPF_COMM_LEN + 1], who[4 * IDENTITY_NAME_LEN + 1], sum[24], max[24];
	__u64 per_gen[3] = {};
	time_t now = time(NULL);
	struct tm tm;
	int i;

	if (!s->cfg->live)
		return;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];
		const struct proc_totals *p = row->proc;

		if (!p)
			break;	/* the totals follow the processes */
		if (row->gen >= 0) {
			per_gen[row->gen] = row->t.count;
			continue;
		}
		text__escape(comm, sizeof(comm), p->comm, sizeof(p->comm));
		text__escape(who, sizeof(who), p->id.unit[0] ? p->id.unit : p->id.short_cmd,
			     IDENTITY_NAME_LEN);
		fprintf(s->f, "%-12s %-7d %s (%s): %llu collections (gen 0/1/2: %llu/%llu/%llu) in "
			"%.1f s, %s paused (%.2f%%), max %s\n", when, p->pid, comm, who,
			(unsigned long long)row->t.count, (unsigned long long)per_gen[0],
			(unsigned long long)per_gen[1], (unsigned long long)per_gen[2],
			r->wall_ns / 1e9, text__duration(sum, sizeof(sum), row->t.sum_ns),
			r->wall_ns ? 100.0 * row->t.sum_ns / r->wall_ns : 0.0,
			text__duration(max, sizeof(max), row->t.max_ns));
		memset(per_gen, 0, sizeof(per_gen));
	}
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
	.report = text_report,
	.free = text_free,
};
