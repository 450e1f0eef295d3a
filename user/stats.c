// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "stats.h"

static struct proc_stats *proc_of(struct stats *s, const struct gc_event *e)
{
	int i;

	for (i = s->nr - 1; i >= 0; i--)
		if (s->procs[i].pid == (pid_t)e->pid)
			return &s->procs[i];
	if (s->nr == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		struct proc_stats *p = realloc(s->procs, cap * sizeof(*p));

		if (!p)
			return NULL;
		s->procs = p;
		s->cap = cap;
	}
	memset(&s->procs[s->nr], 0, sizeof(s->procs[0]));
	s->procs[s->nr].pid = e->pid;
	memcpy(s->procs[s->nr].comm, e->comm, GCBPF_COMM_LEN);
	return &s->procs[s->nr++];
}

struct proc_stats *stats__add(struct stats *s, const struct gc_event *e)
{
	struct proc_stats *p = e->gen < 0 || e->gen > 2 ? NULL : proc_of(s, e);
	struct gen_totals *g;
	__u64 ns = e->ts_stop - e->ts_start;

	if (!p)
		return NULL;
	g = &p->gen[e->gen];
	g->count++;
	g->total_ns += ns;
	if (ns > g->max_ns)
		g->max_ns = ns;
	if (e->collected > 0)
		g->collected += e->collected;
	if (e->uncollectable > 0)
		g->uncollectable += e->uncollectable;
	return p;
}

static int by_pid(const void *a, const void *b)
{
	const struct proc_stats *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

void stats__sort(struct stats *s)
{
	if (s->nr)
		qsort(s->procs, s->nr, sizeof(s->procs[0]), by_pid);
}

void stats__free(struct stats *s)
{
	free(s->procs);
	memset(s, 0, sizeof(*s));
}
