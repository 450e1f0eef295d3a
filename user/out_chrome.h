/* SPDX-License-Identifier: GPL-2.0 */
/*
 * -f chrome: the Trace Event Format that ui.perfetto.dev and chrome://tracing
 * open. One track per process and thread, an "X" slice per collection, a
 * heap counter track per process, process and thread names ("M").
 * "{"traceEvents":[" is written first and "]}" by chrome_trace__finish(),
 * which gcbpf calls on every exit path, so the file is valid JSON even
 * after Ctrl-C or an error.
 */
#ifndef GCBPF_CHROME_TRACE_H
#define GCBPF_CHROME_TRACE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"

struct chrome_trace {
	FILE *f;
	bool started, finished;
	unsigned long events;
	__u32 *seen;		/* tids (and pids) already named */
	int nr_seen, cap_seen;
};

void chrome_trace__start(struct chrome_trace *c, FILE *f);
/* One collection; python: its version or NULL. */
void chrome_trace__event(struct chrome_trace *c, const struct gc_event *e, const char *python);
/* Closes the array and the object; safe to call more than once. */
void chrome_trace__finish(struct chrome_trace *c);

#endif
