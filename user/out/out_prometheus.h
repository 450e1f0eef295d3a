/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --prometheus [ADDR:]PORT: /metrics in the Prometheus text exposition
 * format, served by libmicrohttpd from its own thread, rendered from the
 * totals (the kernel histograms as of the main loop's last refresh) under
 * their lock.
 */
#ifndef GCBPF_PROMETHEUS_H
#define GCBPF_PROMETHEUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include "trace/totals.h"

struct MHD_Daemon;
struct prom_conn;

/*
 * Clients are hostile: at most PROM_MAX_CONNS at once (PROM_MAX_PER_IP from
 * one address), far below gcbpf's fd limit, so they can never starve the
 * tracer of fds; idle ones are closed after PROM_IDLE_S, and a request must
 * arrive whole within PROM_REQUEST_S (a client sending a byte a second is
 * never idle). Tracing never waits for the exporter: it runs in MHD's thread.
 */
#define PROM_MAX_CONNS 64
#define PROM_MAX_PER_IP 16
#define PROM_IDLE_S 5
#define PROM_REQUEST_S 10

struct prometheus {
	struct MHD_Daemon *daemon;
	struct totals *totals;
	bool per_pid;		/* --prometheus-pid: a series per process, not per service */
	struct sockaddr_storage addr;
	char where[80];		/* "127.0.0.1:9464", as given back in messages */
	/* The deadline reaper: */
	pthread_t reaper;
	bool reaping, stopping;
	pthread_mutex_t lock;	/* conns, stopping */
	pthread_cond_t wake;
	struct prom_conn *conns;	/* open connections with their deadlines */
};

/* "[ADDR:]PORT", "[v6addr]:PORT"; the address defaults to 127.0.0.1. 0 or -EINVAL. */
int prometheus__parse_addr(const char *s, struct sockaddr_storage *ss, char *where, size_t len);
/* Listens; 0 or -errno (says why). */
int prometheus__start(struct prometheus *p, struct totals *t);
void prometheus__stop(struct prometheus *p);
/* The exposition text: per service, or per process (per_pid); caller holds t->lock. */
void prometheus__render(FILE *f, struct totals *t, bool per_pid);

#endif
