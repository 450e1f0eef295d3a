/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Why pauses grow, per process and generation, from every event the loader
 * reads: the least-squares fit of pause against the best measure of the
 * objects a collection examined that the version offers, the fit of pause
 * against uptime, and the collections that freed (almost) nothing (with
 * --stacks, where they were triggered). Running sums (Welford), so exact
 * over all events in constant memory: no sample is kept.
 */
#ifndef GCBPF_GROWTH_H
#define GCBPF_GROWTH_H

#include <stdbool.h>
#include <linux/types.h>
#include "gcbpf.h"

struct py_stack;
struct stack_agg;

/* A fit needs this many points ... */
#define GROWTH_MIN_POINTS 5
/* ... and x spread over at least this fraction of its mean (stddev / mean). */
#define GROWTH_MIN_SPREAD 0.05
/* Freed (almost) nothing: at most 1/this of the objects examined, or none when unknown. */
#define GROWTH_EMPTY_FRACTION 1000

/* y against x, least squares, as running sums. */
struct lsq {
	__u64 n;
	double mx, my;		/* means */
	double cxx, cxy, cyy;	/* sums of co-deviations */
	double xmin, xmax, xlast, ylast;
};

struct lsq_fit {
	bool ok;		/* else why says why not */
	const char *why;	/* "too few points", "too little spread" */
	double slope, intercept, r2;
};

void lsq__add(struct lsq *l, double x, double y);
void lsq__fit(const struct lsq *l, struct lsq_fit *f);

/* What a generation's pauses are fitted against. */
enum growth_measure {
	GROWTH_NONE,		/* the version counts nothing this generation examines */
	GROWTH_CANDIDATES,	/* 3.15: candidates */
	GROWTH_HEAP_SIZE,	/* 3.14, full collections: heap_size at the start */
	GROWTH_LONG_LIVED,	/* 3.7-3.13, full collections: survivors + freed */
};

struct growth_gen {
	enum growth_measure measure;	/* of the last event with one */
	struct lsq size;	/* pause ns against the measure */
	struct lsq uptime;	/* pause ns against hours since the process's first event */
	__u64 events, sum_ns;	/* the events seen (the kernel's totals count lost ones too) */
	__u64 empty, empty_ns;	/* of them, those that freed (almost) nothing */
};

struct growth {
	__u64 first_ns;		/* ts_start of the first event, 0: none yet */
	struct growth_gen gen[3];
	struct stack_agg *empty_sites;	/* --stacks: the empty ones by trigger site */
};

/*
 * One collection and, with --stacks, its stack (else NULL). The measure is
 * the first the event carries (the version's: the others are -1).
 */
void growth__add(struct growth *g, const struct gc_event *e, const struct py_stack *st);
/* The measure's name in the output: "candidates", "heap_size", ... */
const char *growth__measure_name(enum growth_measure m);
/* In words, for the advice: "objects examined (candidates)". */
const char *growth__measure_words(enum growth_measure m);
/* Drops the trigger sites (a retired process); the numbers stay. */
void growth__free(struct growth *g);

#endif
