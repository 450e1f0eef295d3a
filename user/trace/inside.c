// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trace/inside.h"
#include "util/text.h"
#include "trace/stack_agg.h"
#include "util/log.h"

#define PENDING_MAX 4096	/* threads in a collection at once, at most */
#define FOLDED_MAX 8192		/* bytes of a folded stack */

/* One thread's collection in progress: its samples so far. */
struct inside_pending {
	__u32 pid, tid;
	__u64 ts_start;
	bool consumed;		/* handed to its event: the next record starts over */
	VEC(struct inside_sample) s;
};

void inside__init(struct inside *in, struct pystack *ps, unsigned int hz)
{
	memset(in, 0, sizeof(*in));
	in->hz = hz;
	in->ps = ps;
	native__init(&in->native, ps);
	inside_agg__init(&in->agg, hz);
}

int inside__parse_hz(const char *arg, unsigned int *hz)
{
	long v;

	if (text__parse_long(arg, INSIDE_DEFAULT_HZ, 1, INSIDE_MAX_HZ, &v))
		return -1;
	*hz = v;
	return 0;
}

static void pending_reset(struct inside_pending *p)
{
	int i;

	for (i = 0; i < p->s.nr; i++)
		free(p->s.items[i].frames);
	p->s.nr = 0;
	p->ts_start = 0;
	p->consumed = false;
}

static struct inside_pending *pending_of(struct inside *in, __u32 tid, bool create)
{
	struct inside_pending *p, **slot;
	int i;

	for (i = 0; i < in->pending.nr; i++)
		if (in->pending.items[i]->tid == tid)
			return in->pending.items[i];
	if (!create || in->pending.nr >= PENDING_MAX)
		return NULL;
	p = calloc(1, sizeof(*p));
	slot = p ? vec_push(&in->pending) : NULL;
	if (!slot) {
		free(p);
		return NULL;
	}
	p->tid = tid;
	*slot = p;
	return p;
}

static void add_sample(struct inside *in, const struct gc_sample *r, const struct gc_frame *frames)
{
	struct inside_pending *p = pending_of(in, r->tid, true);
	struct inside_sample *s;
	int unknown = 0, n;

	in->samples++;
	if (!p) {
		in->dropped++;
		return;
	}
	if (p->consumed || p->ts_start != r->ts_start || p->pid != r->pid) {
		/* A collection whose event and end record were both lost. */
		if (!p->consumed)
			in->orphaned += p->s.nr;
		if (in->cur_owner == p)
			in->cur_owner = NULL;
		pending_reset(p);
		p->pid = r->pid;
		p->ts_start = r->ts_start;
	}
	s = vec_push(&p->s);
	if (!s) {
		in->dropped++;
		return;
	}
	s->ts = r->ts;
	s->kernel = r->flags & GC_SAMPLE_KERNEL;
	s->truncated = r->status == GC_STACK_DEPTH || r->status == GC_STACK_FAULT;
	in->truncated += s->truncated;
	in->no_walk += !!(r->flags & GC_SAMPLE_NO_WALK);
	if (r->flags & GC_SAMPLE_NO_IP) {
		in->no_ip++;
		s->native.func = pystack__intern(in->ps, "[unknown]");
	} else {
		native__lookup(&in->native, r->pid, r->ip, &s->native);
	}
	n = pystack__frames(in->ps, r->binary, frames, r->nr, in->scratch, &unknown);
	in->unknown_frames += unknown;
	if (n > 0 && (s->frames = malloc(n * sizeof(*s->frames)))) {
		memcpy(s->frames, in->scratch, n * sizeof(*s->frames));
		s->nr = n;
	}
}

/* "func (file:def line)": a site, the outermost frame the collection ran. */
static const char *site_of(struct inside *in, const struct inside_sample *s)
{
	const struct py_frame_sym *f = &s->frames[s->nr - 1];
	char buf[1024];

	if (!f->func)
		return pystack__intern(in->ps, "?");
	snprintf(buf, sizeof(buf), "%s (%s:%d)", f->func, f->file, f->first_line);
	return pystack__intern(in->ps, buf);
}

/* The folded line of a sample: its Python frames outermost first, else its native function. */
static const char *folded_of(struct inside *in, const struct inside_sample *s)
{
	static char buf[FOLDED_MAX];
	char name[1024];
	size_t len = 0;
	int i;

	buf[0] = 0;
	if (!s->nr) {
		snprintf(buf, sizeof(buf), "%s", s->native.func);
		for (i = 0; buf[i]; i++)
			if (buf[i] == ';' || buf[i] == ' ')
				buf[i] = buf[i] == ';' ? ':' : '_';
		return pystack__intern(in->ps, buf);
	}
	if (s->truncated)
		len += snprintf(buf, sizeof(buf), "[truncated];");
	for (i = s->nr - 1; i >= 0 && len < sizeof(buf); i--)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s",
				stack_agg__frame_name(name, sizeof(name), &s->frames[i]), i ? ";" : "");
	return pystack__intern(in->ps, buf);
}

/* A collection's samples into the run's totals; its pause split over them. */
static void count_collection(struct inside *in, const struct inside_pending *p, int gen, __u64 ns)
{
	struct inside_gen *g = inside_agg__gen(&in->agg, p->pid, gen);
	double w = (double)ns / p->s.nr;
	int i;

	if (!g)
		return;
	g->collections++;
	g->samples += p->s.nr;
	g->pause_ns += ns;
	for (i = 0; i < p->s.nr; i++) {
		const struct inside_sample *s = &p->s.items[i];

		inside_agg__add(&in->agg, p->pid, gen, INSIDE_NATIVE, s->native.func, s->native.binary,
				1, w);
		if (s->nr) {
			g->python++;
			inside_agg__add(&in->agg, p->pid, gen, INSIDE_SITE, site_of(in, s), NULL, 1, w);
		}
		inside_agg__add(&in->agg, p->pid, gen, INSIDE_FOLDED, folded_of(in, s), NULL, 1, w);
	}
}

static void add_end(struct inside *in, const struct gc_inside_end *r)
{
	struct inside_pending *p = pending_of(in, r->tid, false);

	if (!p || p->consumed || p->ts_start != r->ts_start || p->pid != r->pid)
		return;
	if (r->gen >= 0 && r->gen <= 2 && r->ts_stop >= r->ts_start)
		count_collection(in, p, r->gen, r->ts_stop - r->ts_start);
	else
		in->dropped += p->s.nr;	/* no collection after all, or another generation's */
	pending_reset(p);
}

void inside__record(struct inside *in, const void *data, size_t size)
{
	const struct gc_sample *s = data;

	if (size >= sizeof(*s) && s->record == GC_REC_SAMPLE &&
	    s->nr <= (size - sizeof(*s)) / sizeof(struct gc_frame))
		add_sample(in, s, (const struct gc_frame *)(s + 1));
	else if (size >= sizeof(struct gc_inside_end) && s->record == GC_REC_INSIDE_END)
		add_end(in, data);
	else
		in->bad++;
}

static bool same_stack(const struct inside_sample *a, const struct inside_sample *b)
{
	int i;

	if (a->nr != b->nr || a->truncated != b->truncated)
		return false;
	for (i = 0; i < a->nr; i++)
		if (a->frames[i].func != b->frames[i].func || a->frames[i].file != b->frames[i].file ||
		    a->frames[i].line != b->frames[i].line)
			return false;
	return true;
}

static int stack_cmp(const void *x, const void *y)
{
	const struct inside_stack *a = x, *b = y;

	return (a->samples < b->samples) - (a->samples > b->samples);
}

static int func_cmp(const void *x, const void *y)
{
	const struct inside_func *a = x, *b = y;

	return (a->samples < b->samples) - (a->samples > b->samples);
}

const struct inside_event *inside__take(struct inside *in, const struct gc_event *e)
{
	struct inside_event *ev = &in->cur;
	struct inside_pending *p;
	int i, j;

	ev->samples = 0;
	ev->all = NULL;
	ev->python.nr = 0;
	ev->native.nr = 0;
	if (in->cur_owner) {
		pending_reset(in->cur_owner);
		in->cur_owner = NULL;
	}
	p = pending_of(in, e->tid, false);
	if (!p || p->consumed || p->ts_start != e->ts_start || p->pid != e->pid || !p->s.nr)
		return ev;
	p->consumed = true;
	in->cur_owner = p;
	ev->samples = p->s.nr;
	ev->all = p->s.items;
	for (i = 0; i < p->s.nr; i++) {
		const struct inside_sample *s = &p->s.items[i];
		struct inside_func *f = NULL;
		struct inside_stack *st = NULL;

		for (j = 0; j < ev->native.nr && !f; j++)
			if (ev->native.items[j].sym->func == s->native.func &&
			    ev->native.items[j].sym->binary == s->native.binary)
				f = &ev->native.items[j];
		if (!f && (f = vec_push(&ev->native)))
			f->sym = &s->native;
		if (f)
			f->samples++;
		if (!s->nr)
			continue;
		for (j = 0; j < ev->python.nr && !st; j++)
			if (same_stack(ev->python.items[j].s, s))
				st = &ev->python.items[j];
		if (!st && (st = vec_push(&ev->python)))
			st->s = s;
		if (st)
			st->samples++;
	}
	qsort(ev->native.items, ev->native.nr, sizeof(*ev->native.items), func_cmp);
	if (ev->python.nr)
		qsort(ev->python.items, ev->python.nr, sizeof(*ev->python.items), stack_cmp);
	if (e->gen >= 0 && e->gen <= 2)
		count_collection(in, p, e->gen, e->ts_stop - e->ts_start);
	return ev;
}

void inside__report(const struct inside *in, const __u64 *counters)
{
	__u64 lost = counters ? counters[GC_CNT_SAMPLES_LOST] : 0;

	p_debug("inside: %llu samples received (%llu sent), %llu native addresses named, %llu not",
		(unsigned long long)in->samples,
		(unsigned long long)(counters ? counters[GC_CNT_SAMPLES] : 0),
		(unsigned long long)in->native.named, (unsigned long long)in->native.unnamed);
	if (lost || in->orphaned || in->bad)
		p_warn("inside: %llu samples lost (ring full), %llu whose collection's event was "
		       "lost, %llu malformed", (unsigned long long)lost,
		       (unsigned long long)in->orphaned, (unsigned long long)in->bad);
	if (in->native.unnamed)
		p_warn("inside: %llu of %llu native samples unnamed (no symbol covers them: "
		       "shown as binary+0xOFFSET; install the binary's debug symbols)",
		       (unsigned long long)in->native.unnamed,
		       (unsigned long long)(in->native.named + in->native.unnamed));
	if (in->no_ip || in->no_walk)
		p_warn("inside: %llu samples without their instruction pointer, %llu without "
		       "Python frames (no frame layout or thread state for the build)",
		       (unsigned long long)in->no_ip, (unsigned long long)in->no_walk);
	if (in->agg.no_memory)
		p_warn("inside: %llu samples not counted: out of memory",
		       (unsigned long long)in->agg.no_memory);
}

void inside__free(struct inside *in)
{
	int i;

	for (i = 0; i < in->pending.nr; i++) {
		pending_reset(in->pending.items[i]);
		vec_free(&in->pending.items[i]->s);
		free(in->pending.items[i]);
	}
	vec_free(&in->pending);
	vec_free(&in->cur.python);
	vec_free(&in->cur.native);
	inside_agg__free(&in->agg);
	native__free(&in->native);
	memset(in, 0, sizeof(*in));
}
