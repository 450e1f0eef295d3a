/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --prometheus [ADDR:]PORT: /metrics in the Prometheus text exposition
 * format, served by libmicrohttpd from its own thread, rendered from the
 * totals (the kernel histograms as of the main loop's last refresh) under
 * their lock.
 */
#ifndef GCBPF_PROMETHEUS_H
#define GCBPF_PROMETHEUS_H

#include <stdio.h>
#include <sys/socket.h>
#include "totals.h"

struct MHD_Daemon;

struct prometheus {
	struct MHD_Daemon *daemon;
	struct totals *totals;
	bool per_pid;		/* --prometheus-pid: a series per process, not per service */
	struct sockaddr_storage addr;
	char where[80];		/* "127.0.0.1:9464", as given back in messages */
};

/* "[ADDR:]PORT", "[v6addr]:PORT"; the address defaults to 127.0.0.1. 0 or -EINVAL. */
int prometheus__parse_addr(const char *s, struct sockaddr_storage *ss, char *where, size_t len);
/* Listens; 0 or -errno (says why). */
int prometheus__start(struct prometheus *p, struct totals *t);
void prometheus__stop(struct prometheus *p);
/* The exposition text: per service, or per process (per_pid); caller holds t->lock. */
void prometheus__render(FILE *f, struct totals *t, bool per_pid);

#endif
