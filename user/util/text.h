/* SPDX-License-Identifier: GPL-2.0 */
/* Human text: names made safe for a terminal, durations in the unit that fits. */
#ifndef GCBPF_TEXT_H
#define GCBPF_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/*
 * src (at most max bytes) into dst with control characters (C0, DEL, C1)
 * as \xNN, so a process name or path cannot forge lines or move the
 * cursor. Always NUL-terminates; returns dst.
 */
char *text__escape(char *dst, size_t len, const char *src, size_t max);

/* "705ns", "12.35us", "1.234ms": the unit that fits ns. Returns buf. */
char *text__duration(char *buf, size_t len, __u64 ns);

/*
 * For fixed-width columns (gcbpf top): text__duration() while it fits in
 * width characters, then fewer decimals, then seconds, so that a long pause
 * or sum does not push the next columns off the screen.
 */
char *text__duration_fit(char *buf, size_t len, __u64 ns, size_t width);

/* pct with two decimals, fewer while it is wider than width ("106.3"). */
char *text__percent_fit(char *buf, size_t len, double pct, size_t width);
/* An option's optional number: def when arg is NULL, else arg in min..max; 0, or -1. */
int text__parse_long(const char *arg, long def, long min, long max, long *v);

#endif
