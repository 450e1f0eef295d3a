// SPDX-License-Identifier: GPL-2.0
/*
 * -f text: a line per collection, wall-clock time first, flushed per batch;
 * by default (live) only pauses of at least the threshold, and per interval
 * a line per process that collected.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "trace/clock.h"
#include "util/line_buf.h"
#include "util/numfmt.h"
#include "out/sink.h"
#include "util/text.h"

/*
 * A field's bytes and padding are copied FIELD_SLACK at a time, whatever their
 * length: copies of a constant size are inlined, where the libc calls for a
 * variable one were ~15% of the line's CPU. So every source of a field of up
 * to FIELD_SLACK bytes has FIELD_SLACK readable, and the line as much room past
 * its end.
 */
#define FIELD_SLACK 32

/* text__escape's last result: a process's names repeat from one event to the next. */
struct escaped {
	size_t len;		/* of raw; SIZE_MAX: nothing yet */
	size_t out_len;		/* strlen(out) */
	char raw[IDENTITY_NAME_LEN];
	char out[4 * IDENTITY_NAME_LEN + 1];
};

struct text_out {
	__s64 mono_to_real_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, for wall-clock times */
	unsigned long lines;
	time_t when_sec;	/* the second "when" shows: localtime once per second, not event */
	size_t when_len;
	char when[FIELD_SLACK];
	struct escaped comm, who;
	/*
	 * Lines held (~100 per stdio call). Not on stderr (launch mode), which
	 * warnings share: there a line goes at once, so a warning still follows
	 * the events before it.
	 */
	bool hold;
	struct line_buf held;
};

/* The longest line text_event() makes, and the room it needs. */
#define TEXT_LINE_MAX (64 + 4 * GCBPF_COMM_LEN + 24 + 2 * NUMFMT_MAX + 25 + 16)
#define TEXT_LINE_ROOM (TEXT_LINE_MAX + FIELD_SLACK)

/* text__escape(dst, outlen, src, max) (max <= IDENTITY_NAME_LEN), from c when src repeats. */
static const struct escaped *escape_cached(struct escaped *c, size_t outlen, const char *src,
					   size_t max)
{
	size_t n = strnlen(src, max);

	if (n != c->len || memcmp(c->raw, src, n)) {
		memcpy(c->raw, src, n);
		c->len = n;
		text__escape(c->out, outlen, c->raw, n);
		c->out_len = strlen(c->out);
	}
	return c;
}

static int text_start(struct sink *s)
{
	struct text_out *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->mono_to_real_ns = (__s64)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	t->when_sec = -1;
	t->comm.len = t->who.len = SIZE_MAX;
	t->hold = s->f != stderr;
	t->held.f = s->f;
	s->priv = t;
	return 0;
}

static void text_flush(struct sink *s)
{
	struct text_out *t = s->priv;

	line_buf_flush(&t->held);
}

/*
 * s (n bytes, at most FIELD_SLACK, FIELD_SLACK readable) in a field of width
 * (at most FIELD_SLACK), padded with spaces as printf's %-*s (left) or %*s.
 * Inlined: with a constant width the padding's branch goes too (~15 ns a line
 * measured).
 */
static inline __attribute__((always_inline)) char *field_short(char *p, const char *s, size_t n,
								size_t width, bool left)
{
	size_t pad = n < width ? width - n : 0;

	if (!left) {
		memset(p, ' ', FIELD_SLACK);
		p += pad;
	}
	memcpy(p, s, FIELD_SLACK);
	p += n;
	if (left) {
		memset(p, ' ', FIELD_SLACK);
		p += pad;
	}
	return p;
}

/* The same for s of any length (FIELD_SLACK readable if shorter). */
static inline __attribute__((always_inline)) char *field(char *p, const char *s, size_t n,
							  size_t width, bool left)
{
	if (n <= FIELD_SLACK)
		return field_short(p, s, n, width, left);
	memcpy(p, s, n);	/* wider than any field: no padding */
	return p + n;
}

static inline __attribute__((always_inline)) char *num_field(char *p, __s64 v, size_t width,
							      bool left)
{
	char num[FIELD_SLACK];

	return field_short(p, num, numfmt_s64(num, v), width, left);
}

/*
 * A line per collection, as "%s.%03u %-7u %-7u %-15s %3d %10s %9lld %6lld %s\n"
 * would write it, assembled here and written at once: printf and its stream
 * lock per field were most of the loader's time per event.
 */
static void text_event(struct sink *s, const struct sink_event *ev)
{
	const struct gc_event *e = ev->e;
	struct text_out *t = s->priv;
	__s64 real = (__s64)e->ts_start + t->mono_to_real_ns;
	time_t sec = real / 1000000000;
	unsigned int ms = real % 1000000000 / 1000000;	/* real > 0: CLOCK_REALTIME after 1970 */
	const struct escaped *comm, *who = NULL;
	static const char unknown[FIELD_SLACK] = "?", none[FIELD_SLACK] = "-";
	char pause[FIELD_SLACK], *start, *p;
	struct tm tm;

	if (t->lines++ == 0)
		fprintf(s->f, "%-12s %-7s %-7s %-15s %3s %10s %9s %6s %s\n", "TIME", "PID", "TID",
			"COMM", "GEN", "PAUSE", "COLLECTED", "UNCOLL", "SERVICE");
	if (sec != t->when_sec) {
		localtime_r(&sec, &tm);
		t->when_len = strftime(t->when, sizeof(t->when), "%H:%M:%S", &tm);
		t->when_sec = sec;
	}
	start = t->held.buf + t->held.len;
	p = field(start, t->when, t->when_len, 0, true);
	*p++ = '.';
	*p++ = '0' + ms / 100;
	*p++ = '0' + ms / 10 % 10;
	*p++ = '0' + ms % 10;
	*p++ = ' ';
	p = num_field(p, e->pid, 7, true);
	*p++ = ' ';
	p = num_field(p, e->tid, 7, true);
	*p++ = ' ';
	comm = escape_cached(&t->comm, 4 * GCBPF_COMM_LEN + 1, e->comm, sizeof(e->comm));
	p = field(p, comm->out, comm->out_len, 15, true);
	*p++ = ' ';
	p = num_field(p, e->gen, 3, false);
	*p++ = ' ';
	text__duration(pause, sizeof(pause), e->ts_stop - e->ts_start);
	p = field(p, pause, strlen(pause), 10, false);
	*p++ = ' ';
	if (e->flags & GC_EV_READ_ERROR) {
		p = field(p, unknown, 1, 9, false);
		*p++ = ' ';
		p = field(p, unknown, 1, 6, false);
	} else {
		p = num_field(p, e->collected, 9, false);
		*p++ = ' ';
		p = num_field(p, e->uncollectable, 6, false);
	}
	/* Who it is, compactly: the unit, else the command (script or module and its args). */
	if (ev->proc)
		who = escape_cached(&t->who, 25, ev->proc->id.unit[0] ? ev->proc->id.unit
								      : ev->proc->id.short_cmd,
				    IDENTITY_NAME_LEN);
	*p++ = ' ';
	p = who ? field(p, who->out, who->out_len, 0, true) : field(p, none, 1, 0, true);
	*p++ = '\n';
	t->held.len += p - start;
	/* Not held: the next line is "too long" for any room left, so this one goes now. */
	line_buf_end_line(&t->held, t->hold ? TEXT_LINE_ROOM : LINE_BUF_SIZE);
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

	text_flush(s);	/* the events before any report (this sink's or the next's) come first */
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

/* Before the pause table (another sink) follows in the same stream. */
static void text_finish(struct sink *s, const struct sink_report *r)
{
	(void)r;
	text_flush(s);
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
	.finish = text_finish,
	.flush = text_flush,
	.free = text_free,
};
