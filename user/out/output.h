/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The outputs of one run: the event format (-f), the pause table, --hist
 * and --prometheus, each a sink (sink.h), and the streams they write to.
 * Machine formats stay valid: nothing else shares their stream. In launch
 * mode nothing is written to stdout, which belongs to the command.
 */
#ifndef GCBPF_OUTPUT_H
#define GCBPF_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "out/outfile.h"
#include "out/sink.h"

#define OUTPUT_MAX_SINKS 8

struct output_opts {
	const struct sink_ops *format;	/* the event format */
	const char *path;	/* -o FILE; NULL or "-": the default stream */
	bool launch;		/* launch mode: stdout is the command's */
	struct sink_config cfg;
};

struct outputs {
	struct sink sinks[OUTPUT_MAX_SINKS];
	int nr;
	struct sink_config cfg;
	FILE *events_f;		/* the event format's stream */
	FILE *human_f;		/* tables and histograms; NULL: none (they would break a machine stream) */
	const char *events_name;	/* for messages: the -o path, "stdout" or "stderr" */
	struct outfile file;	/* -o FILE: opened safely, its write errors kept */
	bool own_events_f;
	bool write_failed;	/* said once */
};

/* The event format called name (or its alias), NULL if none is. */
const struct sink_ops *output__format(const char *name);
/* "text, jsonl or chrome": the formats, for messages and --help. */
const char *output__format_names(void);

/* Opens the streams and starts every sink. 0 or -errno (said). */
int outputs__open(struct outputs *o, const struct output_opts *opts, struct totals *t);
/* One collection to the event format (unless -q). */
/* Whether an open sink reads events (else the kernel's totals are enough: none are made). */
bool outputs__want_events(const struct outputs *o);
void outputs__event(struct outputs *o, const struct sink_event *ev);
/* After each batch: flushes every stream. 0, or -EIO once a write failed (said). */
int outputs__flush(struct outputs *o);
/* An interval report (-i). Caller holds totals->lock. */
void outputs__report(struct outputs *o, struct totals *t, __u64 wall_ns, __u64 run_ns);
/* Between polls: true when a sink (top's q) asks to end. */
bool outputs__idle(struct outputs *o);
/*
 * The run's final report (t NULL: tracing failed, only close what was
 * opened, e.g. a trace's JSON), then closes the streams. 0, or -EIO if any
 * write failed (said). Caller holds t->lock.
 */
int outputs__close(struct outputs *o, struct totals *t, __u64 wall_ns);

#endif
