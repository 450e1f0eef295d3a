// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hdr.h"
#include "target.h"
#include "totals.h"

/* struct gen_totals is read straight off a histogram's header. */
_Static_assert(offsetof(struct gc_hist, count) == offsetof(struct gen_totals, count) &&
	       offsetof(struct gc_hist, sum_ns) == offsetof(struct gen_totals, sum_ns) &&
	       offsetof(struct gc_hist, max_ns) == offsetof(struct gen_totals, max_ns) &&
	       offsetof(struct gc_hist, collected) == offsetof(struct gen_totals, collected) &&
	       offsetof(struct gc_hist, uncollectable) ==
		       offsetof(struct gen_totals, uncollectable),
	       "gen_totals must match the gc_hist header");

void totals__init(struct totals *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

static void free_hists(struct proc_totals *p)
{
	int g;

	for (g = 0; g < 3; g++) {
		free(p->hist[g]);
		free(p->base[g]);
		p->hist[g] = p->base[g] = NULL;
	}
}

void totals__free(struct totals *t)
{
	int i, g;

	for (i = 0; i < t->procs.nr; i++)
		free_hists(&t->procs.items[i]);
	vec_free(&t->procs);
	for (g = 0; g < 3; g++)
		free(t->retired[g]);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

static struct proc_totals *find(struct totals *t, pid_t pid)
{
	int i;

	/* Events come in runs of one process: the last hit first. */
	if (t->last < t->procs.nr && t->procs.items[t->last].pid == pid &&
	    !t->procs.items[t->last].retired)
		return &t->procs.items[t->last];
	for (i = t->procs.nr - 1; i >= 0; i--)
		if (t->procs.items[i].pid == pid && !t->procs.items[i].retired) {
			t->last = i;
			return &t->procs.items[i];
		}
	return NULL;
}

struct proc_totals *totals__proc(struct totals *t, pid_t pid, const char *comm)
{
	struct proc_totals *p = find(t, pid);

	if (p)
		return p;
	p = vec_push(&t->procs);
	if (!p)
		return NULL;
	t->last = t->procs.nr - 1;
	p->pid = pid;
	p->heap_size = p->long_lived_total = -1;
	/* Once per process, while /proc still has it. */
	if (comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	else
		target__comm(pid, p->comm, sizeof(p->comm));
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "?");
	target__container_id(pid, p->container, sizeof(p->container));
	return p;
}

void totals__event(struct totals *t, const struct gc_event *e)
{
	struct proc_totals *p;

	pthread_mutex_lock(&t->lock);
	/* e->comm is the process's name (its main thread's comm). */
	p = totals__proc(t, e->pid, e->comm);
	if (p) {
		memcpy(p->comm, e->comm, sizeof(p->comm));
		if (e->heap_size >= 0)
			p->heap_size = e->heap_size;
		if (e->long_lived_total >= 0)
			p->long_lived_total = e->long_lived_total;
	}
	pthread_mutex_unlock(&t->lock);
}

void totals__set_hist(void *ctx, const struct gc_hist_key *key, const struct gc_hist *h)
{
	struct totals *t = ctx;
	struct proc_totals *p;
	int g = key->gen;

	if (key->gen > 2)
		return;
	p = totals__proc(t, key->pid, NULL);
	if (!p)
		return;
	if (!p->hist[g]) {
		p->hist[g] = calloc(1, sizeof(*h));
		p->base[g] = calloc(1, sizeof(*h));
		if (!p->hist[g] || !p->base[g]) {
			free(p->hist[g]);
			free(p->base[g]);
			p->hist[g] = p->base[g] = NULL;
			return;
		}
	}
	memcpy(p->hist[g], h, sizeof(*h));
	memcpy(&p->gen[g], h, sizeof(p->gen[g]));
}

int totals__retire(struct totals *t, __u64 now, __u64 grace_ns, pid_t *out, int max)
{
	int i, g, n = 0;

	for (i = 0; i < t->procs.nr && n < max; i++) {
		struct proc_totals *p = &t->procs.items[i];

		if (p->retired)
			continue;
		if (!p->exited_ns && kill(p->pid, 0) && errno == ESRCH)
			p->exited_ns = now;
		if (!p->exited_ns || now - p->exited_ns < grace_ns)
			continue;
		for (g = 0; g < 3; g++) {
			if (!p->hist[g])
				continue;
			if (!t->retired[g])
				t->retired[g] = calloc(1, sizeof(*t->retired[g]));
			if (t->retired[g])
				hdr__merge(t->retired[g], p->hist[g]);
		}
		free_hists(p);
		p->retired = true;
		out[n++] = p->pid;
	}
	return n;
}

static int by_pid(const void *x, const void *y)
{
	const struct proc_totals *a = x, *b = y;

	return (a->pid > b->pid) - (a->pid < b->pid);
}

void totals__sort(struct totals *t)
{
	if (t->procs.nr)
		qsort(t->procs.items, t->procs.nr, sizeof(t->procs.items[0]), by_pid);
	t->last = 0;
}

const struct gc_hist *totals__hist(struct proc_totals *p, int gen, bool interval,
				   struct gc_hist *scratch)
{
	if (!p->hist[gen])
		return NULL;
	if (!interval)
		return p->hist[gen];
	hdr__sub(scratch, p->hist[gen], p->base[gen]);
	memcpy(p->base[gen], p->hist[gen], sizeof(*scratch));
	return scratch;
}

static void add_totals(struct gen_totals *dst, const struct gen_totals *src)
{
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	dst->collected += src->collected;
	dst->uncollectable += src->uncollectable;
}

static struct pause_row *add_row(struct pause_rows *out, const struct proc_totals *p, int gen,
				 const struct gen_totals *t, const struct gc_hist *h)
{
	struct pause_row *r = &out->rows[out->nr++];

	r->proc = p;
	r->gen = gen;
	r->parts = 1;
	r->t = *t;
	r->hist = h;
	return r;
}

int totals__rows(struct totals *t, bool interval, struct pause_rows *out)
{
	/* Per process: an interval copy per generation and their sum; then
	 * every process together: 3 generations and all. */
	size_t n = t->procs.nr;
	struct gc_hist *together, scratch;
	int i, g;

	memset(out, 0, sizeof(*out));
	totals__sort(t);
	out->store = calloc(n * 4 + 4, sizeof(*out->store));
	out->rows = calloc(n * 4 + 4, sizeof(*out->rows));
	if (!out->store || !out->rows) {
		pause_rows__free(out);
		return -ENOMEM;
	}
	together = &out->store[n * 4];
	for (i = 0; i < (int)n; i++) {
		struct proc_totals *p = &t->procs.items[i];
		struct gc_hist *mine = &out->store[i * 4], *sum = &mine[3];
		struct gen_totals psum = {};
		int parts = 0;

		if (interval && p->retired)
			continue;	/* gone before this interval */
		for (g = 0; g < 3; g++) {
			const struct gc_hist *h = NULL;

			if (p->retired) {
				/* Counted in t->retired, merged below. */
				if (!p->gen[g].count)
					continue;
				add_row(out, p, g, &p->gen[g], NULL);
				add_totals(&psum, &p->gen[g]);
				parts++;
				continue;
			}
			h = totals__hist(p, g, interval, &scratch);
			if (!h || !h->count)
				continue;
			memcpy(&mine[g], h, sizeof(*h));
			add_row(out, p, g, (const struct gen_totals *)&mine[g], &mine[g]);
			add_totals(&psum, (const struct gen_totals *)&mine[g]);
			hdr__merge(sum, &mine[g]);
			hdr__merge(&together[g], &mine[g]);
			hdr__merge(&together[3], &mine[g]);
			parts++;
		}
		if (!parts)
			continue;
		out->nr_procs++;
		add_row(out, p, -1, &psum, p->retired ? NULL : sum)->parts = parts;
	}
	for (g = 0; g < 3 && !interval; g++) {
		if (!t->retired[g])
			continue;
		hdr__merge(&together[g], t->retired[g]);
		hdr__merge(&together[3], t->retired[g]);
	}
	for (g = 0; g < 4; g++) {
		struct pause_row *r;

		if (!together[g].count)
			continue;
		r = add_row(out, NULL, g < 3 ? g : -1, (const struct gen_totals *)&together[g],
			    &together[g]);
		if (g == 3)
			r->parts = !!together[0].count + !!together[1].count + !!together[2].count;
	}
	return 0;
}

void pause_rows__free(struct pause_rows *r)
{
	free(r->rows);
	free(r->store);
	memset(r, 0, sizeof(*r));
}
