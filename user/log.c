// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include "log.h"
#include "text.h"

bool log_verbose;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096], safe[4 * sizeof(msg)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s%s\n", prefix, text__escape(safe, sizeof(safe), msg, sizeof(msg)));
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
