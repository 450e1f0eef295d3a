// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "util/log.h"
#include "util/text.h"

bool log_verbose;
static void (*capture)(void *ctx, const char *line);
static void *capture_ctx;
static pid_t capture_pid;	/* the process that owns the screen (a fork child does not) */

void log__capture(void (*fn)(void *ctx, const char *line), void *ctx)
{
	capture = fn;
	capture_ctx = ctx;
	capture_pid = fn ? getpid() : 0;
}

void log__vline(const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096], safe[4 * sizeof(msg)], line[sizeof(safe) + 32];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* libbpf ends its lines with \n: a line, not an escaped \x0a */
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = 0;
	snprintf(line, sizeof(line), "%s%s", prefix, text__escape(safe, sizeof(safe), msg,
								    sizeof(msg)));
	if (capture && capture_pid == getpid())
		capture(capture_ctx, line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);	/* at once, also when stderr is buffered for events (launch mode) */
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vline("gcbpf: ", fmt, ap);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vline("gcbpf: warning: ", fmt, ap);
	va_end(ap);
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vline("", fmt, ap);
	va_end(ap);
}

void p_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log__vline("gcbpf: ", fmt, ap);
	va_end(ap);
}

int err_fill(char *err, size_t err_len, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return code;
}
