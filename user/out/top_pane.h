/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gcbpf top's lower pane (the selected process: pauses since start,
 * thresholds, advice, trigger sites) as lines built before drawing, so the
 * process list gets the rows the pane leaves.
 */
#ifndef GCBPF_TOP_PANE_H
#define GCBPF_TOP_PANE_H

#define TOP_PANE_LINES 64	/* the lower pane, at most */

struct pane_line {
	char text[256];
	int attr;		/* curses attributes */
};

/* One line at p[*n] (dropped past TOP_PANE_LINES). */
void top_pane__add(struct pane_line *p, int *n, int attr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An advice item over as many lines of width cols as it takes, at most max. */
void top_pane__wrap(struct pane_line *p, int *n, const char *text, int cols, int max);

#endif
