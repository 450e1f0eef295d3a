// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "trace/inside_agg.h"
#include "util/text.h"

void inside_agg__init(struct inside_agg *a, unsigned int hz)
{
	memset(a, 0, sizeof(*a));
	a->hz = hz;
}

struct inside_gen *inside_agg__gen(struct inside_agg *a, pid_t pid, int gen)
{
	struct inside_gen *g;
	int i;

	for (i = 0; i < a->nr_gens; i++)
		if (a->gens[i].pid == pid && a->gens[i].gen == gen)
			return &a->gens[i];
	if (a->nr_gens == a->cap_gens) {
		int cap = a->cap_gens ? 2 * a->cap_gens : 16;

		g = realloc(a->gens, cap * sizeof(*g));
		if (!g) {
			a->no_memory++;
			return NULL;
		}
		a->gens = g;
		a->cap_gens = cap;
	}
	g = &a->gens[a->nr_gens++];
	memset(g, 0, sizeof(*g));
	g->pid = pid;
	g->gen = gen;
	return g;
}

static size_t row_hash(pid_t pid, int gen, int kind, const char *x, const char *y)
{
	uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(gen * 4 + kind);

	h = (h ^ (uintptr_t)x) * 0xff51afd7ed558ccdULL;
	h = (h ^ (uintptr_t)y) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static int grow_index(struct inside_agg *a)
{
	int cap = a->index_cap ? 2 * a->index_cap : 256, i;
	int *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (i = 0; i < a->nr; i++) {
		const struct inside_row *r = &a->rows[i];
		size_t j = row_hash(r->pid, r->gen, r->kind, r->a, r->b) & (cap - 1);

		while (idx[j])
			j = (j + 1) & (cap - 1);
		idx[j] = i + 1;
	}
	free(a->index);
	a->index = idx;
	a->index_cap = cap;
	return 0;
}

void inside_agg__add(struct inside_agg *a, pid_t pid, int gen, enum inside_kind kind,
		     const char *x, const char *y, __u64 samples, double ns)
{
	struct inside_row *r;
	size_t j;

	if (!x || ((a->nr + 1) * 2 > a->index_cap && grow_index(a))) {
		a->no_memory++;
		return;
	}
	for (j = row_hash(pid, gen, kind, x, y) & (a->index_cap - 1); a->index[j];
	     j = (j + 1) & (a->index_cap - 1)) {
		r = &a->rows[a->index[j] - 1];
		if (r->pid == pid && r->gen == gen && r->kind == kind && r->a == x && r->b == y) {
			r->samples += samples;
			r->ns += ns;
			return;
		}
	}
	if (a->nr == a->cap) {
		int cap = a->cap ? 2 * a->cap : 64;
		struct inside_row *n = realloc(a->rows, cap * sizeof(*n));

		if (!n) {
			a->no_memory++;
			return;
		}
		a->rows = n;
		a->cap = cap;
	}
	r = &a->rows[a->nr++];
	*r = (struct inside_row){ pid, gen, kind, x, y, samples, ns };
	a->index[j] = a->nr;
}

static int by_samples(const void *x, const void *y)
{
	const struct inside_row *a = *(const struct inside_row *const *)x;
	const struct inside_row *b = *(const struct inside_row *const *)y;

	if (a->samples != b->samples)
		return a->samples < b->samples ? 1 : -1;
	return (a->ns < b->ns) - (a->ns > b->ns);
}

/* Rows of one kind for (pid, gen) (pid 0: every process merged by name), most samples first. */
static int ranked(const struct inside_agg *a, pid_t pid, int gen, enum inside_kind kind,
		  struct inside_row *out, int max)
{
	const struct inside_row **p = malloc((a->nr ? a->nr : 1) * sizeof(*p));
	int i, j, n = 0, m = 0;

	if (!p)
		return 0;
	for (i = 0; i < a->nr; i++)
		if (a->rows[i].gen == gen && a->rows[i].kind == kind && (!pid || a->rows[i].pid == pid))
			p[n++] = &a->rows[i];
	/* Every process: the same name merged (interned: equal pointers). */
	for (i = 0; i < n && pid == 0; i++) {
		struct inside_row *merged = NULL;

		for (j = 0; j < m && !merged; j++)
			if (out[j].a == p[i]->a && out[j].b == p[i]->b)
				merged = &out[j];
		if (merged) {
			merged->samples += p[i]->samples;
			merged->ns += p[i]->ns;
			continue;
		}
		if (m < max)
			out[m++] = *p[i];
	}
	if (pid) {
		qsort(p, n, sizeof(*p), by_samples);
		for (i = 0; i < n && m < max; i++)
			out[m++] = *p[i];
	} else {
		const struct inside_row **q = malloc((m ? m : 1) * sizeof(*q));

		for (i = 0; q && i < m; i++)
			q[i] = &out[i];
		if (q) {
			struct inside_row *tmp = malloc((m ? m : 1) * sizeof(*tmp));

			qsort(q, m, sizeof(*q), by_samples);
			for (i = 0; tmp && i < m; i++)
				tmp[i] = *q[i];
			if (tmp)
				memcpy(out, tmp, m * sizeof(*tmp));
			free(tmp);
		}
		free(q);
	}
	free(p);
	return m;
}

int inside_agg__lines(const struct inside_agg *a, pid_t pid, int n, inside_line_fn cb, void *ctx)
{
	struct inside_row *rows = malloc((a->nr + 1) * sizeof(*rows));
	char line[640], d[24];
	int gen, lines = 0, k, i, nr;

	if (!rows)
		return 0;
	for (gen = 0; gen < 3; gen++) {
		__u64 colls = 0, samples = 0, python = 0, pause = 0;

		for (i = 0; i < a->nr_gens; i++) {
			const struct inside_gen *g = &a->gens[i];

			if (g->gen != gen || (pid && g->pid != pid))
				continue;
			colls += g->collections;
			samples += g->samples;
			python += g->python;
			pause += g->pause_ns;
		}
		if (!samples)
			continue;
		snprintf(line, sizeof(line), "gen %d: %llu samples in %llu collections (%s paused); "
			 "%llu in Python code the collection ran", gen, (unsigned long long)samples,
			 (unsigned long long)colls, text__duration(d, sizeof(d), pause),
			 (unsigned long long)python);
		cb(ctx, 1, line);
		lines++;
		for (k = INSIDE_NATIVE; k <= INSIDE_SITE; k++) {
			nr = ranked(a, pid, gen, k, rows, a->nr + 1);
			for (i = 0; i < nr && i < n; i++) {
				snprintf(line, sizeof(line), "  %-6s %6.1f%% %8llu  %10s  %s%s%s%s",
					 k == INSIDE_NATIVE ? "native" : "python",
					 100.0 * rows[i].samples / samples,
					 (unsigned long long)rows[i].samples,
					 text__duration(d, sizeof(d), (__u64)rows[i].ns), rows[i].a,
					 rows[i].b ? " (" : "", rows[i].b ? rows[i].b : "",
					 rows[i].b ? ")" : "");
				cb(ctx, 0, line);
				lines++;
			}
			if (nr > n) {
				snprintf(line, sizeof(line), "  %-6s ... %d more", k == INSIDE_NATIVE ?
					 "native" : "python", nr - n);
				cb(ctx, 0, line);
				lines++;
			}
		}
	}
	free(rows);
	return lines;
}

void inside_agg__folded(const struct inside_agg *a, FILE *f, int count)
{
	struct inside_row *rows = malloc((a->nr + 1) * sizeof(*rows));
	int gen, i, nr;

	for (gen = 0; rows && gen < 3; gen++) {
		nr = ranked(a, 0, gen, INSIDE_FOLDED, rows, a->nr + 1);
		for (i = 0; i < nr; i++)
			fprintf(f, "gen %d;%s %llu\n", gen, rows[i].a,
				count ? (unsigned long long)rows[i].samples
				      : (unsigned long long)(rows[i].ns + 0.5));
	}
	free(rows);
}

void inside_agg__free(struct inside_agg *a)
{
	free(a->rows);
	free(a->index);
	free(a->gens);
	memset(a, 0, sizeof(*a));
}
