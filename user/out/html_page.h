/* SPDX-License-Identifier: GPL-2.0 */
/* The fixed parts of -f html's page: its style and its drawing script (html_page.c). */
#ifndef GCBPF_HTML_PAGE_H
#define GCBPF_HTML_PAGE_H

/* Debian's libjs-chart.js, read when the page is written; GCBPF_CHART_JS overrides it. */
#define HTML_CHART_JS "/usr/share/javascript/chart.js/chart.min.js"

extern const char html_page_style[];
extern const char html_page_script[];

#include <stdio.h>
#include <linux/types.h>

struct sink_report;

/* Text into HTML (out_html.c). */
void html__escape(FILE *f, const char *s);
/*
 * The page's tables, written by the live code's numbers (html_tables.c): the
 * totals, what was lost, the pause table, the advice. events: collections
 * the page has; step: every step-th drawn; no_memory: not kept.
 */
void html__tables(FILE *f, const struct sink_report *r, __u64 events, __u64 step,
		  __u64 no_memory);

#endif
