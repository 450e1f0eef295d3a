// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "trace/hdr.h"
#include "trace/stack_agg.h"
#include "util/text.h"
#include "util/vec.h"

void stack_agg__init(struct stack_agg *a, bool percentiles)
{
	memset(a, 0, sizeof(*a));
	a->percentiles = percentiles;
}

static __u64 hash_of(const struct py_stack *st)
{
	__u64 h = 1469598103934665603ULL ^ (st ? (__u64)st->nr * 2 + st->truncated : ~0ULL);
	int i;

	for (i = 0; st && i < st->nr; i++) {
		h = (h ^ (uintptr_t)st->frames[i].func) * 1099511628211ULL;
		h = (h ^ (uintptr_t)st->frames[i].file) * 1099511628211ULL;
		h = (h ^ (__u64)(unsigned)st->frames[i].line) * 1099511628211ULL;
	}
	return h;
}

static bool same(const struct stack_site *s, const struct py_stack *st, __u64 h)
{
	bool unavailable = !st || st->unavailable;

	if (s->hash != h || s->unavailable != unavailable)
		return false;
	if (unavailable)
		return true;
	return s->nr == st->nr && s->truncated == st->truncated &&
	       !memcmp(s->frames, st->frames, st->nr * sizeof(st->frames[0]));
}

/* Rebuilds the index at twice the size. */
static int grow_index(struct stack_agg *a)
{
	int cap = a->index_cap ? 2 * a->index_cap : 256, i;
	int *index = calloc(cap, sizeof(*index));

	if (!index)
		return -1;
	for (i = 0; i < a->nr; i++) {
		size_t k = a->sites[i].hash & (cap - 1);

		while (index[k])
			k = (k + 1) & (cap - 1);
		index[k] = i + 1;
	}
	free(a->index);
	a->index = index;
	a->index_cap = cap;
	return 0;
}

static struct stack_site *site_of(struct stack_agg *a, const struct py_stack *st)
{
	__u64 h = hash_of(st && !st->unavailable ? st : NULL);
	struct stack_site *s;
	size_t k;

	if ((a->nr + 1) * 2 > a->index_cap && grow_index(a))
		return NULL;
	for (k = h & (a->index_cap - 1); a->index[k]; k = (k + 1) & (a->index_cap - 1))
		if (same(&a->sites[a->index[k] - 1], st, h))
			return &a->sites[a->index[k] - 1];
	if (vec__reserve((void **)&a->sites, &a->cap, a->nr + 1, sizeof(*a->sites)))
		return NULL;
	s = &a->sites[a->nr];
	memset(s, 0, sizeof(*s));
	s->hash = h;
	s->unavailable = !st || st->unavailable;
	if (!s->unavailable) {
		s->nr = st->nr;
		s->truncated = st->truncated;
		s->frames = malloc((st->nr ? st->nr : 1) * sizeof(*s->frames));
		if (!s->frames)
			return NULL;
		memcpy(s->frames, st->frames, st->nr * sizeof(*s->frames));
	}
	a->index[k] = ++a->nr;
	return s;
}

void stack_agg__add(struct stack_agg *a, const struct py_stack *st, int gen, __u64 ns)
{
	struct stack_site *s;

	if (gen < 0 || gen > 2)
		return;
	s = site_of(a, st);
	if (!s) {
		a->no_memory++;
		return;
	}
	a->events++;
	s->count[gen]++;
	s->sum_ns[gen] += ns;
	if (ns > s->max_ns[gen])
		s->max_ns[gen] = ns;
	if (a->percentiles) {
		if (!s->hist[gen])
			s->hist[gen] = calloc(1, sizeof(*s->hist[gen]));
		if (s->hist[gen])
			hdr__add(s->hist[gen], ns, 0, 0);
	}
}

static __u64 total(const struct stack_site *s)
{
	return s->sum_ns[0] + s->sum_ns[1] + s->sum_ns[2];
}

/* The ranking of trigger sites: by total pause, largest first. */
static int by_sum(const void *x, const void *y)
{
	__u64 a = total(x), b = total(y);

	return (a < b) - (a > b);
}

static int by_sum_ptr(const void *x, const void *y)
{
	return by_sum(*(const struct stack_site *const *)x, *(const struct stack_site *const *)y);
}

int stack_agg__ranked(const struct stack_agg *a, const struct stack_site ***out)
{
	const struct stack_site **r = malloc((a->nr ? a->nr : 1) * sizeof(*r));
	int i;

	*out = r;
	if (!r)
		return -1;
	for (i = 0; i < a->nr; i++)
		r[i] = &a->sites[i];
	qsort(r, a->nr, sizeof(*r), by_sum_ptr);
	return a->nr;
}

void stack_agg__sort(struct stack_agg *a)
{
	if (a->nr)
		qsort(a->sites, a->nr, sizeof(*a->sites), by_sum);
	free(a->index);	/* positions moved: no more adds after sorting */
	a->index = NULL;
	a->index_cap = 0;
}

char *stack_agg__frame_name(char *buf, size_t len, const struct py_frame_sym *f)
{
	char raw[1024];
	size_t i;

	if (!f->func)
		snprintf(raw, sizeof(raw), "?");	/* an unknown frame, in place */
	else if (f->line >= 0)
		snprintf(raw, sizeof(raw), "%s (%s:%d)", f->func, f->file, f->line);
	else
		snprintf(raw, sizeof(raw), "%s (%s)", f->func, f->file);
	text__escape(buf, len, raw, sizeof(raw));
	for (i = 0; buf[i]; i++)
		if (buf[i] == ';')
			buf[i] = ':';
	return buf;
}

void stack_agg__free(struct stack_agg *a)
{
	int i, g;

	for (i = 0; i < a->nr; i++) {
		free(a->sites[i].frames);
		for (g = 0; g < 3; g++)
			free(a->sites[i].hist[g]);
	}
	free(a->sites);
	free(a->index);
	memset(a, 0, sizeof(*a));
}
