// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include "util/log.h"
#include "util/text.h"

bool log_verbose;
static void (*capture)(const char *line);

void log__capture(void (*fn)(const char *line))
{
	capture = fn;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096], safe[4 * sizeof(msg)], line[sizeof(safe) + 32];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(line, sizeof(line), "%s%s", prefix, text__escape(safe, sizeof(safe), msg,
								    sizeof(msg)));
	if (capture)
		capture(line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);	/* at once, also when stderr is buffered for events (launch mode) */
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("gcbpf: ", fmt, ap);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("gcbpf: warning: ", fmt, ap);
	va_end(ap);
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void p_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("gcbpf: ", fmt, ap);
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
