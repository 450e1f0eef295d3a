// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trace/hdr.h"
#include "target/target.h"
#include "trace/totals.h"

/* struct gen_totals is read straight off a histogram's header. */
_Static_assert(offsetof(struct gc_hist, count) == offsetof(struct gen_totals, count) &&
	       offsetof(struct gc_hist, sum_ns) == offsetof(struct gen_totals, sum_ns) &&
	       offsetof(struct gc_hist, max_ns) == offsetof(struct gen_totals, max_ns) &&
	       offsetof(struct gc_hist, collected) == offsetof(struct gen_totals, collected) &&
	       offsetof(struct gc_hist, uncollectable) ==
		       offsetof(struct gen_totals, uncollectable),
	       "gen_totals must match the gc_hist header");

void totals__init(struct totals *t, bool hide_args, const char *match)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->hide_args = hide_args;
	t->match = match;
}

static void free_hists(struct proc_totals *p)
{
	int g;

	for (g = 0; g < 3; g++) {
		free(p->hist[g]);
		free(p->base[g]);
		p->hist[g] = p->base[g] = NULL;
	}
	growth__free(&p->growth);
}

void totals__free(struct totals *t)
{
	int i, g;

	for (i = 0; i < t->procs.nr; i++)
		free_hists(&t->procs.items[i]);
	vec_free(&t->procs);
	for (g = 0; g < 3; g++)
		free(t->retired[g]);
	for (i = 0; i < t->services.nr; i++)
		for (g = 0; g < 3; g++)
			free(t->services.items[i].retired[g]);
	vec_free(&t->services);
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

/* The service called name (created), its index; -1 when out of memory. */
static int service_of(struct totals *t, const struct identity *id)
{
	struct service_totals *s;
	int i;

	for (i = 0; i < t->services.nr; i++)
		if (!t->services.items[i].dropped && !strcmp(t->services.items[i].name, id->service))
			break;
	if (i == t->services.nr) {
		s = vec_push(&t->services);
		if (!s)
			return -1;
		snprintf(s->name, sizeof(s->name), "%s", id->service);
		snprintf(s->container, sizeof(s->container), "%s", id->container);
	}
	t->services.items[i].idle_since_ns = 0;
	return i;
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
	p->heap_size = p->long_lived_total = p->rss = -1;
	gc_config__init(&p->gc);
	/* Once per process, while /proc still has it. */
	if (comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	else
		target__comm(pid, p->comm, sizeof(p->comm));
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "?");
	identity__read(&p->id, pid, p->comm, t->hide_args, t->match);
	/* Not asked for (--match): counted, never reported or exported. */
	p->service = p->id.matched ? service_of(t, &p->id) : -1;
	return p;
}

__u64 totals__untimed(const struct proc_totals *p, int g)
{
	return p->untimed_prev[g] +
	       (p->before.state == GC_COUNTS_READ ? (__u64)p->before.collections[g] : 0);
}

/* An exec: what the old image did not time stays counted; the new one starts afresh. */
static void new_image(struct proc_totals *p)
{
	int g;

	for (g = 0; g < 3; g++) {
		p->untimed_prev[g] = totals__untimed(p, g);
		p->gen_seen[g] = false;
	}
	memset(&p->before, 0, sizeof(p->before));
	p->image++;
}

void totals__before(struct totals *t, pid_t pid, const struct gc_counts *c)
{
	struct proc_totals *p;

	pthread_mutex_lock(&t->lock);
	p = totals__proc(t, pid, NULL);
	if (p) {
		p->before = *c;
		memset(p->gen_seen, 0, sizeof(p->gen_seen));
		t->before_unknown += c->state == GC_COUNTS_UNKNOWN;
	}
	pthread_mutex_unlock(&t->lock);
}

void totals__exec(struct totals *t, pid_t pid)
{
	struct proc_totals *p;

	pthread_mutex_lock(&t->lock);
	p = find(t, pid);
	if (p) {
		/* A wrapper (sh, env) exec'd the interpreter: the new image's identity,
		 * and its GC state found anew. */
		target__comm(pid, p->comm, sizeof(p->comm));
		gc_config__init(&p->gc);
		new_image(p);
		identity__read(&p->id, pid, p->comm, t->hide_args, t->match);
		p->service = p->id.matched ? service_of(t, &p->id) : -1;
	} else {
		totals__proc(t, pid, NULL);
	}
	pthread_mutex_unlock(&t->lock);
}

/*
 * The first event of a generation after the counters were read: its count
 * (the interpreter's, this collection included) bounds what ran before. The
 * read came after the probes were armed, so collections between the two were
 * both timed and read: taken out of before.
 */
static void first_of_gen(struct proc_totals *p, const struct gc_event *e)
{
	if (e->gen < 0 || e->gen > 2 || p->gen_seen[e->gen])
		return;
	p->gen_seen[e->gen] = true;
	if (p->before.state == GC_COUNTS_READ && e->collections > 0 &&
	    e->collections - 1 < p->before.collections[e->gen])
		p->before.collections[e->gen] = e->collections - 1;
}

void totals__gauges(struct proc_totals *p, const struct gc_event *e)
{
	memcpy(p->comm, e->comm, sizeof(p->comm));
	if (e->heap_size >= 0)
		p->heap_size = e->heap_size;
	if (e->long_lived_total >= 0)
		p->long_lived_total = e->long_lived_total;
	if (e->rss >= 0)
		p->rss = e->rss;
}

const struct proc_totals *totals__event(struct totals *t, const struct gc_event *e)
{
	struct proc_totals *p;

	pthread_mutex_lock(&t->lock);
	/* e->comm is the process's name (its main thread's comm). */
	p = totals__proc(t, e->pid, e->comm);
	if (p) {
		totals__gauges(p, e);
		first_of_gen(p, e);
	}
	pthread_mutex_unlock(&t->lock);
	return p;
}

void totals__growth(struct totals *t, const struct gc_event *e, const struct py_stack *st)
{
	struct proc_totals *p;

	pthread_mutex_lock(&t->lock);
	p = totals__proc(t, e->pid, e->comm);
	if (p && !p->retired)
		growth__add(&p->growth, e, st);
	pthread_mutex_unlock(&t->lock);
}

void totals__set_hist(void *ctx, const struct gc_hist_key *key, const struct gc_hist *h)
{
	struct totals *t = ctx;
	struct proc_totals *p;
	int g = key->gen;

	if (key->gen > 2)
		return;
	/* The kernel's entry names the process and keeps the gauges: with no
	 * events (-q), nothing else does, and the process may be gone already. */
	p = totals__proc(t, key->pid, h->named && h->comm[0] ? h->comm : NULL);
	if (!p)
		return;
	if (h->named && h->heap_size >= 0)
		p->heap_size = h->heap_size;
	if (h->named && h->long_lived_total >= 0)
		p->long_lived_total = h->long_lived_total;
	if (h->named && h->rss >= 0)
		p->rss = h->rss;
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

static void mark_idle(struct totals *t, int service, __u64 now);

/* *dst += h, *dst allocated on first use (out of memory: the buckets are lost, said nowhere
 * else: the rows keep exact counts). */
static void merge_into(struct gc_hist **dst, const struct gc_hist *h)
{
	if (!*dst)
		*dst = calloc(1, sizeof(**dst));
	if (*dst)
		hdr__merge(*dst, h);
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
			struct service_totals *s = p->service >= 0 ? &t->services.items[p->service]
								 : NULL;

			if (!p->hist[g])
				continue;
			merge_into(&t->retired[g], p->hist[g]);
			if (s)
				merge_into(&s->retired[g], p->hist[g]);
		}
		for (g = 0; g < 3 && p->service >= 0; g++)
			t->services.items[p->service].untimed[g] += totals__untimed(p, g);
		free_hists(p);
		p->retired = true;
		out[n++] = p->pid;
		mark_idle(t, p->service, now);
	}
	return n;
}

/* A service whose last live process was retired is idle from now. */
static void mark_idle(struct totals *t, int service, __u64 now)
{
	int i;

	if (service < 0)
		return;
	for (i = 0; i < t->procs.nr; i++)
		if (t->procs.items[i].service == service && !t->procs.items[i].retired)
			return;
	t->services.items[service].idle_since_ns = now;
}

void totals__expire_services(struct totals *t, __u64 now, __u64 idle_ns)
{
	int i, g;

	for (i = 0; i < t->services.nr; i++) {
		struct service_totals *s = &t->services.items[i];

		if (s->dropped || !s->idle_since_ns || now - s->idle_since_ns < idle_ns)
			continue;
		s->dropped = true;
		for (g = 0; g < 3; g++) {
			free(s->retired[g]);
			s->retired[g] = NULL;
		}
	}
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

		if ((interval && p->retired) || !p->id.matched)
			continue;	/* gone before this interval, or not asked for (--match) */
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
