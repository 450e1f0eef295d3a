/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --inside, over the run: sampled pause time per process and generation,
 * by native function, by Python site (the outermost frame the collection
 * ran: a finalizer, a weakref callback) and by folded stack. A sample
 * weighs its collection's measured pause over that collection's samples,
 * so a collection's samples add up to its pause. Read by the exit table,
 * gcbpf top and -f folded --folded-what inside.
 */
#ifndef GCBPF_INSIDE_AGG_H
#define GCBPF_INSIDE_AGG_H

#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

enum inside_kind {
	INSIDE_NATIVE,		/* a: function, b: binary */
	INSIDE_SITE,		/* a: "func (file:def line)" of the outermost frame run */
	INSIDE_FOLDED,		/* a: "frame;...;frame", outermost first, or the native function */
};

struct inside_row {
	pid_t pid;
	int gen;
	enum inside_kind kind;
	const char *a, *b;	/* interned */
	__u64 samples;
	double ns;		/* estimated pause time */
};

/* One process's generation: what was sampled of it. */
struct inside_gen {
	pid_t pid;
	int gen;
	__u64 collections;	/* sampled ones */
	__u64 samples;
	__u64 python;		/* samples with Python frames */
	__u64 pause_ns;		/* of the sampled collections */
};

struct inside_agg {
	struct inside_row *rows;
	int nr, cap;
	int *index;		/* open addressing: row + 1, 0 empty */
	int index_cap;
	struct inside_gen *gens;
	int nr_gens, cap_gens;
	unsigned int hz;	/* the sampling rate */
	__u64 no_memory;
};

void inside_agg__init(struct inside_agg *a, unsigned int hz);
/* ns of a collection's pause to (pid, gen): a sampled collection. */
struct inside_gen *inside_agg__gen(struct inside_agg *a, pid_t pid, int gen);
void inside_agg__add(struct inside_agg *a, pid_t pid, int gen, enum inside_kind kind,
		     const char *x, const char *y, __u64 samples, double ns);
/*
 * "Where pause time went": per process (pid 0: every one) and generation,
 * the top n native functions and Python sites, with samples and shares;
 * one line each into cb. Returns the lines written.
 */
typedef void (*inside_line_fn)(void *ctx, int bold, const char *line);
int inside_agg__lines(const struct inside_agg *a, pid_t pid, int n, inside_line_fn cb, void *ctx);
/* -f folded --folded-what inside: "gen N;stack VALUE" lines, every process together. */
void inside_agg__folded(const struct inside_agg *a, FILE *f, int count);
void inside_agg__free(struct inside_agg *a);

#endif
