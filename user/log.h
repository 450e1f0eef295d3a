/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one way gcbpf talks to the user outside its outputs: stderr, one line
 * per message, control characters escaped (messages carry names and paths
 * that targets choose).
 */
#ifndef GCBPF_LOG_H
#define GCBPF_LOG_H

#include <stdbool.h>

extern bool log_verbose;

/* What failed, where, why, what to do: one line, "gcbpf: " first. */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress a person watching wants ("Tracing ...", "Armed ..."): as is. */
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* While a full-screen view owns the terminal: every message to fn (NULL: stderr again). */
void log__capture(void (*fn)(const char *line));
/* Only with -v. */
void p_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
