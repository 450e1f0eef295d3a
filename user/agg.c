// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agg.h"
#include "target.h"
#include "hdr.h"

void agg__init(struct agg *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
}

void agg__free(struct agg *a)
{
	int i, g;

	for (i = 0; i < a->nr; i++)
		for (g = 0; g < 3; g++) {
			free(a->procs[i].cur[g]);
			free(a->procs[i].prev[g]);
		}
	free(a->procs);
	pthread_mutex_destroy(&a->lock);
	memset(a, 0, sizeof(*a));
}

struct agg_proc *agg__proc(struct agg *a, pid_t pid, const char *comm)
{
	struct agg_proc *p;
	int i;

	for (i = a->nr - 1; i >= 0; i--)
		if (a->procs[i].pid == pid)
			return &a->procs[i];
	if (a->nr == a->cap) {
		int cap = a->cap ? 2 * a->cap : 16;

		p = realloc(a->procs, cap * sizeof(*p));
		if (!p)
			return NULL;
		a->procs = p;
		a->cap = cap;
	}
	p = &a->procs[a->nr++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->heap_size = p->long_lived_total = -1;
	if (comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	else
		target__comm(pid, p->comm, sizeof(p->comm));
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "?");
	target__container_id(pid, p->container, sizeof(p->container));
	return p;
}

void agg__event(struct agg *a, const struct gc_event *e)
{
	struct agg_proc *p;

	pthread_mutex_lock(&a->lock);
	p = agg__proc(a, e->pid, e->pid == e->tid ? e->comm : NULL);
	if (p) {
		if (e->pid == e->tid)
			memcpy(p->comm, e->comm, sizeof(p->comm));
		if (e->heap_size >= 0)
			p->heap_size = e->heap_size;
		if (e->long_lived_total >= 0)
			p->long_lived_total = e->long_lived_total;
	}
	pthread_mutex_unlock(&a->lock);
}

void agg__set_hist(void *ctx, const struct gc_hist_key *key, const struct gc_hist *h)
{
	struct agg *a = ctx;
	struct agg_proc *p;

	if (key->gen > 2)
		return;
	p = agg__proc(a, key->pid, NULL);
	if (!p)
		return;
	if (!p->cur[key->gen]) {
		p->cur[key->gen] = calloc(1, sizeof(*h));
		p->prev[key->gen] = calloc(1, sizeof(*h));
		if (!p->cur[key->gen] || !p->prev[key->gen])
			return;
	}
	memcpy(p->cur[key->gen], h, sizeof(*h));
	/* With no events (-q), the kernel's entry names the process and keeps the gauges. */
	if (h->comm[0] && (!p->comm[0] || !strcmp(p->comm, "?")))
		memcpy(p->comm, h->comm, sizeof(p->comm));
	if (h->heap_size >= 0)
		p->heap_size = h->heap_size;
	if (h->long_lived_total >= 0)
		p->long_lived_total = h->long_lived_total;
}

int agg__expired(struct agg *a, double now, double expire_s, pid_t *out, int max)
{
	int i, n = 0;

	for (i = 0; i < a->nr; i++) {
		struct agg_proc *p = &a->procs[i];

		if (p->forgotten)
			continue;
		if (!p->exited_at && kill(p->pid, 0) && errno == ESRCH)
			p->exited_at = now;
		if (p->exited_at && now - p->exited_at >= expire_s && n < max) {
			p->forgotten = true;
			out[n++] = p->pid;
		}
	}
	return n;
}

static int by_pid(const void *x, const void *y)
{
	const struct agg_proc *a = x, *b = y;

	return (a->pid > b->pid) - (a->pid < b->pid);
}

void agg__sort(struct agg *a)
{
	if (a->nr)
		qsort(a->procs, a->nr, sizeof(a->procs[0]), by_pid);
}

void agg__interval(struct agg_proc *p, struct gc_hist *out[3])
{
	int g;

	for (g = 0; g < 3; g++) {
		memset(out[g], 0, sizeof(*out[g]));
		if (!p->cur[g])
			continue;
		hdr__sub(out[g], p->cur[g], p->prev[g]);
		memcpy(p->prev[g], p->cur[g], sizeof(*p->cur[g]));
	}
}

void agg__to_stats(struct agg *a, struct stats *s)
{
	int i, g;

	stats__free(s);
	if (!a->nr)
		return;
	s->procs = calloc(a->nr, sizeof(*s->procs));
	if (!s->procs)
		return;
	s->cap = a->nr;
	for (i = 0; i < a->nr; i++) {
		struct proc_stats *ps = &s->procs[s->nr];
		bool any = false;

		ps->pid = a->procs[i].pid;
		memcpy(ps->comm, a->procs[i].comm, sizeof(ps->comm));
		memcpy(ps->container, a->procs[i].container, sizeof(ps->container));
		for (g = 0; g < 3; g++) {
			const struct gc_hist *h = a->procs[i].cur[g];

			if (!h || !h->count)
				continue;
			any = true;
			ps->gen[g].count = h->count;
			ps->gen[g].total_ns = h->sum_ns;
			ps->gen[g].max_ns = h->max_ns;
			ps->gen[g].collected = h->collected;
			ps->gen[g].uncollectable = h->uncollectable;
		}
		s->nr += any;
	}
}
