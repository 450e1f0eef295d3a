/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one way gcbpf talks to the user outside its outputs: stderr, one line
 * per message, control characters escaped (messages carry names and paths
 * that targets choose).
 */
#ifndef GCBPF_LOG_H
#define GCBPF_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

extern bool log_verbose;

/* What failed, where, why, what to do: one line, "gcbpf: " first. */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress a person watching wants ("Tracing ...", "Armed ..."): as is. */
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The one convention below the top: a function that can fail returns 0 or
 * -errno and writes its one-line reason into the caller's err (err_len
 * bytes); the top says it, with p_err or p_warn: session.c and gcbpf.c at
 * start-up, and while tracing the handlers of what happens (follow.c for
 * execs, output.c/outfile.c for write errors, pystack.c per binary), each
 * said once. err_fill does the writing and returns code.
 */
int err_fill(char *err, size_t err_len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * While a full-screen view (gcbpf top) owns the terminal: every message,
 * escaped, one line without its newline, to fn(ctx, line) instead of stderr;
 * NULL: stderr again. Only in the process that installed it: a fork child
 * (the watchdog) writes to stderr.
 */
void log__capture(void (*fn)(void *ctx, const char *line), void *ctx);
/* One message as the p_* functions write it, prefix first (libbpf's, with -v). */
void log__vline(const char *prefix, const char *fmt, va_list ap);
/* Only with -v. */
void p_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
