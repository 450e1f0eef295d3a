/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What gcbpf says while top owns the terminal (Armed ..., warnings): kept
 * here instead of written over the screen, the newest two shown on top's
 * last lines, all of them written to stderr once the screen is gone.
 */
#ifndef GCBPF_TOP_MESSAGES_H
#define GCBPF_TOP_MESSAGES_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define TOP_MESSAGES_KEPT 256	/* the newest; older ones are counted */
#define TOP_MESSAGE_LINES 2	/* on the screen: the newest two */

struct top_message {
	time_t when;
	char *text;
};

struct top_messages {
	struct top_message ring[TOP_MESSAGES_KEPT];
	unsigned long long nr;		/* said since start; ring holds the last min(nr, KEPT) */
	unsigned long long drawn;	/* nr when the screen last showed them */
};

/* One line from the log hook (log__capture). Out of memory: counted, not kept. */
void top_messages__add(struct top_messages *m, const char *line);
/* The newest, or NULL. */
const struct top_message *top_messages__newest(const struct top_messages *m);
/* Screen lines the message area takes: one per message, at most TOP_MESSAGE_LINES. */
int top_messages__lines(const struct top_messages *m);
/*
 * The newest messages on the last lines lines of the curses screen, oldest
 * first, each on one line, its time first, its middle cut out when too wide.
 */
void top_messages__draw(struct top_messages *m, int lines);
/*
 * Everything kept to f, oldest first ("HH:MM:SS " before each), after a line
 * that says how many older ones were not kept; then forgets them.
 */
void top_messages__flush(struct top_messages *m, FILE *f);
void top_messages__free(struct top_messages *m);

#endif
