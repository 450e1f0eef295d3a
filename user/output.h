/* SPDX-License-Identifier: GPL-2.0 */
/* Writing events and summaries: live text lines or JSON lines. */
#ifndef GCBPF_OUTPUT_H
#define GCBPF_OUTPUT_H

#include <stdio.h>
#include <linux/types.h>
#include "out_chrome.h"
#include "gcbpf.h"
#include "py_build.h"
#include "stats.h"

struct py_stack;

enum output_format {
	OUTPUT_TEXT,
	OUTPUT_JSONL,
	OUTPUT_NONE,		/* -q: no per-event output, only the summary */
	OUTPUT_CHROME,		/* Trace Event Format JSON (Perfetto, chrome://tracing) */
};

struct output {
	enum output_format format;
	FILE *f;		/* events */
	FILE *summary;		/* human summary at exit */
	__s64 mono_to_real_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, for wall-clock text */
	unsigned long lines;
	struct chrome_trace chrome;	/* OUTPUT_CHROME */
	const struct py_stack *stack;	/* --stacks: the current event's, else NULL */
};

int output__parse_format(const char *s, enum output_format *fmt);
void output__init(struct output *o, enum output_format fmt, FILE *f, FILE *summary);
/* One collection. b may be NULL if the build is unknown. */
void output__event(struct output *o, const struct gc_event *e, const struct py_build *b);
/* After each batch of events, so lines appear as collections happen. */
void output__flush(struct output *o);
/* Ends the event stream (closes the chrome trace's JSON); safe to repeat. */
void output__finish(struct output *o);
/* Per-process, per-generation summary and the kernel's loss counters. */
void output__summary(struct output *o, struct stats *s, const __u64 counters[GC_CNT_MAX]);

/* JSON string body with escapes, into f. */
void json_string(FILE *f, const char *s, size_t max);

#endif
