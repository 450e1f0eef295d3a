// SPDX-License-Identifier: GPL-2.0
/*
 * Growth and waste (trace/growth.h) in words and in JSON: per generation the
 * fit of pause against the objects examined and against uptime, the
 * collections that freed (almost) nothing, and what gc.freeze() would move.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "out/advice.h"
#include "out/json_writer.h"
#include "trace/stack_agg.h"
#include "util/text.h"

#define PER 100000.0	/* slopes are said per this many objects */

/* "950", "12.3 k", "1.80 M" */
static char *count_text(char *buf, size_t len, double v)
{
	if (v < 10000)
		snprintf(buf, len, "%.0f", v);
	else if (v < 1e6)
		snprintf(buf, len, "%.1f k", v / 1e3);
	else
		snprintf(buf, len, "%.2f M", v / 1e6);
	return buf;
}

/* A signed duration: "-1.20ms". */
static char *signed_duration(char *buf, size_t len, double ns)
{
	char d[24];

	text__duration(d, sizeof(d), (__u64)llround(fabs(ns)));
	snprintf(buf, len, "%s%s", ns < 0 ? "-" : "", d);
	return buf;
}

/* A span of uptime, given in hours: "12.3 s", "2.50 h". */
static char *span_text(char *buf, size_t len, double hours)
{
	if (hours < 1)
		snprintf(buf, len, "%.1f s", hours * 3600);
	else
		snprintf(buf, len, "%.2f h", hours);
	return buf;
}

/* The generation's fits; false when it had no events. */
static bool fits_of(const struct growth_gen *g, struct lsq_fit *size, struct lsq_fit *up)
{
	lsq__fit(&g->size, size);
	lsq__fit(&g->uptime, up);
	return g->events > 0;
}

void advice__growth_line(char *buf, size_t len, const struct proc_totals *p, int gen)
{
	const struct growth_gen *g = &p->growth.gen[gen];
	struct lsq_fit size, up;
	char d[32], now[24];
	int k;

	buf[0] = 0;
	if (!fits_of(g, &size, &up))
		return;
	if (g->measure == GROWTH_NONE)
		k = snprintf(buf, len, "gen %d: no fit against objects examined: the version "
			     "counts them for every collection from 3.15, for full ones from 3.7",
			     gen);
	else if (!size.ok)
		k = snprintf(buf, len, "gen %d: no fit against %s (%s: %llu collections)", gen,
			     growth__measure_name(g->measure), size.why,
			     (unsigned long long)g->size.n);
	else
		k = snprintf(buf, len, "gen %d: %s per 100k %s, R^2 %.2f over %llu collections; "
			     "%s now", gen, signed_duration(d, sizeof(d), size.slope * PER),
			     growth__measure_words(g->measure), size.r2,
			     (unsigned long long)g->size.n,
			     count_text(now, sizeof(now), g->size.xlast));
	if (k < 0 || (size_t)k >= len)
		return;
	if (!up.ok)
		snprintf(buf + k, len - k, "; against uptime: no fit (%s)", up.why);
	else
		snprintf(buf + k, len - k, "; against uptime: %s per hour, R^2 %.2f over %s",
			 signed_duration(d, sizeof(d), up.slope), up.r2,
			 span_text(now, sizeof(now), g->uptime.xmax - g->uptime.xmin));
}

/* What gc.freeze() would do, as far as was read. */
static void freeze_words(char *buf, size_t len, const struct gc_config *c, double now,
			 double slope)
{
	char n[24], f[24], d[32];

	if (c->frozen < 0)
		snprintf(buf, len, "call gc.freeze() after start-up so the long-lived objects are "
			 "no longer examined (whether it is in use is unknown: %s)", c->frozen_why);
	else if (!c->frozen)
		snprintf(buf, len, "gc.freeze() is not in use (0 objects frozen, read from the "
			 "process): called after start-up it would move the %s objects examined "
			 "now out of later collections, up to %s less per pause by this fit",
			 count_text(n, sizeof(n), now), signed_duration(d, sizeof(d), slope * now));
	else
		snprintf(buf, len, "gc.freeze() is in use (%s objects frozen, read from the "
			 "process): the %s examined now came after it; freeze again after later "
			 "warm-up phases, or keep fewer long-lived container objects",
			 count_text(f, sizeof(f), c->frozen), count_text(n, sizeof(n), now));
}

/* The trigger site most of gen's empty collections came from (--stacks), or NULL. */
static const struct stack_site *empty_site(const struct growth *g, int gen)
{
	const struct stack_site *best = NULL;
	int i;

	for (i = 0; g->empty_sites && i < g->empty_sites->nr; i++) {
		const struct stack_site *s = &g->empty_sites->sites[i];

		if (s->count[gen] && (!best || s->sum_ns[gen] > best->sum_ns[gen]))
			best = s;
	}
	return best;
}

static char *site_words(char *buf, size_t len, const struct stack_site *s)
{
	if (s->unavailable)
		snprintf(buf, len, "no stack from this build");
	else if (!s->nr)
		snprintf(buf, len, "%s", s->truncated ? "a truncated stack" : "no Python frame");
	else
		stack_agg__frame_name(buf, len, &s->frames[0]);
	return buf;
}

/* What fewer empty collections of gen takes, given what was read from the process. */
static char *empty_remedy(char *buf, size_t len, const struct gc_config *c, int gen)
{
	int k = 0;

	if (c->known && c->enabled == 0)
		k = snprintf(buf, len, "automatic collection is off, so these are the program's "
			     "gc.collect() calls: call it less often");
	else if (c->known)
		k = snprintf(buf, len, "a higher threshold for gen %d (now %d, read from the "
			     "process: gc.set_threshold) makes fewer of them", gen,
			     c->threshold[gen]);
	else
		k = snprintf(buf, len, "a higher threshold for gen %d (gc.set_threshold) makes "
			     "fewer of them", gen);
	if (k < 0 || (size_t)k >= len)
		return buf;
	if (c->frozen == 0)
		snprintf(buf + k, len - k, "; gc.freeze() after start-up (not in use: 0 objects "
			 "frozen) takes the long-lived objects out of every one");
	else if (c->frozen < 0)
		snprintf(buf + k, len - k, "; gc.freeze() after start-up takes the long-lived "
			 "objects out of every one");
	return buf;
}

void advice__growth(struct advice *a, const struct proc_totals *p)
{
	const struct growth *gr = &p->growth;
	char d1[32], d2[32], more[384], site[320], now[24];
	struct lsq_fit size, up;
	int gen;

	for (gen = 0; gen < 3; gen++) {
		const struct growth_gen *g = &gr->gen[gen];
		double mean;

		if (!fits_of(g, &size, &up))
			continue;
		mean = (double)g->sum_ns / g->events;
		if (gen == 2 && size.ok && size.slope > 0 && size.r2 >= ADVICE_BOUND_FIT_R2 &&
		    mean >= ADVICE_BOUND_GROWTH_NS) {
			freeze_words(more, sizeof(more), &p->gc, g->size.xlast, size.slope);
			advice__add(a, ADVICE_PAUSE_GROWTH, "gen-2 pauses grow %s per 100k %s "
				    "(least squares, R^2 %.2f over %llu collections); %s now: %s",
				    signed_duration(d1, sizeof(d1), size.slope * PER),
				    growth__measure_words(g->measure), size.r2,
				    (unsigned long long)g->size.n,
				    count_text(now, sizeof(now), g->size.xlast), more);
		}
		/* flagged: a clear rise over the run, of pauses long enough to matter */
		if (up.ok && up.slope > 0 && up.r2 >= ADVICE_BOUND_FIT_R2 &&
		    mean >= ADVICE_BOUND_GROWTH_NS &&
		    g->uptime.xmax - g->uptime.xmin >= ADVICE_BOUND_TREND_SPAN_H &&
		    up.slope * (g->uptime.xmax - g->uptime.xmin) >=
			    ADVICE_BOUND_TREND * fabs(up.intercept + up.slope * g->uptime.xmin))
			advice__add(a, ADVICE_PAUSE_TREND,
				    "gen-%d pauses grow %s per hour of uptime (least squares, "
				    "R^2 %.2f over %llu collections in %s; mean %s): "
				    "something keeps growing what each collection examines", gen,
				    signed_duration(d1, sizeof(d1), up.slope), up.r2,
				    (unsigned long long)g->uptime.n,
				    span_text(now, sizeof(now), g->uptime.xmax - g->uptime.xmin),
				    signed_duration(d2, sizeof(d2), mean));
		if (gen && g->empty >= ADVICE_BOUND_EMPTY_COUNT &&
		    g->empty_ns >= ADVICE_BOUND_EMPTY_SHARE * g->sum_ns &&
		    g->empty_ns >= ADVICE_BOUND_GROWTH_NS * g->empty) {
			const struct stack_site *s = empty_site(gr, gen);

			if (s)
				snprintf(more, sizeof(more), "triggered most at %s (%llu of them)",
					 site_words(site, sizeof(site), s),
					 (unsigned long long)s->count[gen]);
			else
				snprintf(more, sizeof(more), "run with --stacks to see where they "
					 "are triggered");
			advice__add(a, ADVICE_EMPTY,
				    "%llu of %llu gen-%d collections freed (almost) nothing "
				    "(at most 1/%d of the objects examined): %s, %.0f%% of "
				    "gen-%d pause time; %s. They cost without return: %s",
				    (unsigned long long)g->empty, (unsigned long long)g->events,
				    gen, GROWTH_EMPTY_FRACTION,
				    signed_duration(d1, sizeof(d1), g->empty_ns),
				    100.0 * g->empty_ns / g->sum_ns, gen, more,
				    empty_remedy(site, sizeof(site), &p->gc, gen));
		}
	}
}

static void lsq_json(struct json_writer *w, const char *name, const struct lsq *l,
		     const struct lsq_fit *f)
{
	jw_name(w, name);
	jw_start_object(w);
	jw_uint_field(w, "points", l->n);
	jw_bool_field(w, "fit", f->ok);
	if (f->ok) {
		jw_float_field(w, "slope", f->slope, 6);
		jw_float_field(w, "intercept_ns", f->intercept, 0);
		jw_float_field(w, "r2", f->r2, 4);
	} else {
		jw_string_field(w, "why", f->why);
	}
	jw_end_object(w);
}

void advice__json(struct json_writer *w, const struct proc_totals *p, const struct advice *a)
{
	const struct growth *gr = &p->growth;
	char site[320];
	struct lsq_fit size, up;
	int gen, i;

	if (p->gc.frozen >= 0)
		jw_int_field(w, "frozen", p->gc.frozen);
	else
		jw_null_field(w, "frozen");
	jw_string_or_null_field(w, "frozen_why", p->gc.frozen < 0 ? p->gc.frozen_why : NULL);
	jw_name(w, "generations");
	jw_start_array(w);
	for (gen = 0; gen < 3; gen++) {
		const struct growth_gen *g = &gr->gen[gen];
		const struct stack_site *s;

		if (!fits_of(g, &size, &up))
			continue;
		jw_start_object(w);
		jw_int_field(w, "gen", gen);
		jw_uint_field(w, "collections", g->events);
		jw_uint_field(w, "pause_ns", g->sum_ns);
		jw_string_or_null_field(w, "measure", g->measure ? growth__measure_name(g->measure)
								  : NULL);
		if (g->measure) {
			/* slope: ns per object */
			lsq_json(w, "size", &g->size, &size);
			jw_float_field(w, "measure_now", g->size.xlast, 0);
		}
		/* slope: ns per hour */
		lsq_json(w, "uptime", &g->uptime, &up);
		jw_uint_field(w, "empty", g->empty);
		jw_uint_field(w, "empty_ns", g->empty_ns);
		s = empty_site(gr, gen);
		jw_string_or_null_field(w, "empty_site", s ? site_words(site, sizeof(site), s)
							   : NULL);
		jw_end_object(w);
	}
	jw_end_array(w);
	jw_name(w, "items");
	jw_start_array(w);
	for (i = 0; i < a->nr; i++) {
		jw_start_object(w);
		jw_string_field(w, "kind", advice__name(a->items[i].kind));
		jw_string_field(w, "text", a->items[i].text);
		jw_end_object(w);
	}
	jw_end_array(w);
}
