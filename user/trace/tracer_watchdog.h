/* SPDX-License-Identifier: GPL-2.0 */
/* The tracer's watchdog (tracer__stop_following, tracer__continue: tracer.h). */
#ifndef GCBPF_TRACER_WATCHDOG_H
#define GCBPF_TRACER_WATCHDOG_H

#include <stddef.h>

struct tracer;

/* Before anything can be stopped: the watchdog, a child that outlives gcbpf. 0 or -errno. */
int watchdog__start(struct tracer *t, char *ebuf, size_t elen);
/* At close: tells it gcbpf ended normally, waits for it. */
void watchdog__stop(struct tracer *t);
/* Each poll: without its watchdog, stopping at exec is no longer safe: it ends. */
void watchdog__check(struct tracer *t);

#endif
