/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --stats tables (plain or Markdown, and JSON lines) and --hist log2
 * histograms, from the kernel-aggregated histograms in struct agg.
 */
#ifndef GCBPF_REPORT_H
#define GCBPF_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "agg.h"

enum table_format {
	TABLE_PLAIN,
	TABLE_MD,
};

enum hist_mode {
	HIST_NONE,
	HIST_GEN,		/* one per generation, all processes together */
	HIST_PID,		/* one per process and generation */
};

struct report_opts {
	bool stats;
	enum hist_mode hist;
	enum table_format table;
	FILE *table_f;		/* human tables and histograms; NULL: none */
	FILE *json_f;		/* {"type":"stats"} lines; NULL: none */
};

int report__parse_table(const char *s, enum table_format *fmt);
/*
 * One report. interval: the pauses since the previous interval report (and
 * that becomes the new base), else every pause of the run. wall_ns: the time
 * the report covers, for the GC share. Caller holds a->lock.
 */
void report__print(struct agg *a, const struct report_opts *o, bool interval, __u64 wall_ns);

#endif
