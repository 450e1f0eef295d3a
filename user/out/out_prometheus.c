// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <microhttpd.h>
#include "trace/clock.h"
#include "trace/hdr.h"
#include "util/log.h"
#include "out/out_prometheus.h"
#include "out/sink.h"
#include "util/version.h"

/* 50 µs .. 10 s, 1-2.5-5 steps. */
static const struct {
	const char *le;
	__u64 ns;
} buckets[] = {
	{ "5e-05", 50000ULL },	    { "0.0001", 100000ULL },	 { "0.00025", 250000ULL },
	{ "0.0005", 500000ULL },    { "0.001", 1000000ULL },	 { "0.0025", 2500000ULL },
	{ "0.005", 5000000ULL },    { "0.01", 10000000ULL },	 { "0.025", 25000000ULL },
	{ "0.05", 50000000ULL },    { "0.1", 100000000ULL },	 { "0.25", 250000000ULL },
	{ "0.5", 500000000ULL },    { "1", 1000000000ULL },	 { "2.5", 2500000000ULL },
	{ "5", 5000000000ULL },	    { "10", 10000000000ULL },
};

int prometheus__parse_addr(const char *s, struct sockaddr_storage *ss, char *where, size_t len)
{
	char host[64] = "127.0.0.1";
	const char *port_s = s, *colon;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
		port_s = close + 2;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		if (!host[0] || !strcmp(host, "*"))
			snprintf(host, sizeof(host), "0.0.0.0");
		port_s = colon + 1;
	}
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (errno || end == port_s || *end || port < 1 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		snprintf(where, len, "%s:%ld", host, port);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		snprintf(where, len, "[%s]:%ld", host, port);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* A label value: \ " and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * One exported entity: a service (its processes summed, exited ones
 * included, so counters never go backwards), or with --prometheus-pid one
 * process.
 */
struct series {
	const char *service;
	const char *container;	/* "" if none */
	pid_t pid;		/* 0: a service */
	struct gc_hist *h[3];	/* NULL: no pauses of that generation */
	__u64 untimed[3];	/* collections run before gcbpf armed the processes */
	__s64 heap_size, long_lived, rss;	/* summed over live processes, -1: unknown */
	int procs;		/* live processes */
};

static void labels(FILE *f, const struct series *x, int gen)
{
	fputs("{service=", f);
	label_value(f, x->service);
	if (x->container[0]) {
		fputs(",container=", f);
		label_value(f, x->container);
	}
	if (x->pid)
		fprintf(f, ",pid=\"%d\"", x->pid);
	if (gen >= 0)
		fprintf(f, ",generation=\"%d\"", gen);
}

/* One sample: NAME{labels} VALUE */
static void sample(FILE *f, const char *name, const struct series *x, int gen,
		   unsigned long long value)
{
	fputs(name, f);
	labels(f, x, gen);
	fprintf(f, "} %llu\n", value);
}

static void duration_series(FILE *f, const struct series *x, int g, const struct gc_hist *h)
{
	size_t i;

	for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
		fputs("python_gc_duration_seconds_bucket", f);
		labels(f, x, g);
		fprintf(f, ",le=\"%s\"} %llu\n", buckets[i].le,
			(unsigned long long)hdr__count_le(h, buckets[i].ns));
	}
	fputs("python_gc_duration_seconds_bucket", f);
	labels(f, x, g);
	fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
	fputs("python_gc_duration_seconds_sum", f);
	labels(f, x, g);
	fprintf(f, "} %.9f\n", h->sum_ns / 1e9);
	sample(f, "python_gc_duration_seconds_count", x, g, h->count);
}

static void collections_series(FILE *f, const struct series *x, int g, const struct gc_hist *h)
{
	sample(f, "python_gc_collections_total", x, g, h->count);
}

static void collected_series(FILE *f, const struct series *x, int g, const struct gc_hist *h)
{
	sample(f, "python_gc_objects_collected_total", x, g, h->collected);
}

static void uncollectable_series(FILE *f, const struct series *x, int g, const struct gc_hist *h)
{
	sample(f, "python_gc_objects_uncollectable_total", x, g, h->uncollectable);
}

typedef void (*series_fn)(FILE *f, const struct series *x, int gen, const struct gc_hist *h);

static void each(FILE *f, const struct series *xs, int n, series_fn fn)
{
	int i, g;

	for (i = 0; i < n; i++)
		for (g = 0; g < 3; g++)
			if (xs[i].h[g] && xs[i].h[g]->count)
				fn(f, &xs[i], g, xs[i].h[g]);
}

/* Read from the interpreters' own counters when gcbpf armed them (docs/untimed.md). */
static void untimed(FILE *f, const struct series *xs, int n)
{
	int i, g;

	fputs("# HELP python_gc_collections_untimed_total Collections that ran before gcbpf armed "
	      "the process (its interpreter's counters at that moment): counted, not timed.\n"
	      "# TYPE python_gc_collections_untimed_total counter\n", f);
	for (i = 0; i < n; i++)
		for (g = 0; g < 3; g++)
			if (xs[i].untimed[g])
				sample(f, "python_gc_collections_untimed_total", &xs[i], g,
				       xs[i].untimed[g]);
}

enum gauge_kind { GAUGE_HEAP, GAUGE_LONG_LIVED, GAUGE_RSS, GAUGE_PROCS };

static void gauge(FILE *f, const struct series *xs, int n, const char *name, const char *help,
		  enum gauge_kind kind)
{
	bool head = false;
	int i;

	for (i = 0; i < n; i++) {
		__s64 v = kind == GAUGE_HEAP ? xs[i].heap_size
			: kind == GAUGE_LONG_LIVED ? xs[i].long_lived
			: kind == GAUGE_RSS ? xs[i].rss : xs[i].procs;

		if (v < 0)
			continue;
		if (!head)
			fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
		head = true;
		fputs(name, f);
		labels(f, &xs[i], -1);
		fprintf(f, "} %lld\n", (long long)v);
	}
}

static void add_gauge(__s64 *sum, __s64 v)
{
	if (v >= 0)
		*sum = (*sum < 0 ? 0 : *sum) + v;
}

/* h (allocated on first use) += src; false when out of memory. */
static bool merge(struct gc_hist **h, const struct gc_hist *src)
{
	if (!src)
		return true;
	if (!*h && !(*h = calloc(1, sizeof(**h))))
		return false;
	hdr__merge(*h, src);
	return true;
}

/* The entities to export; their histograms are the caller's to free. */
static int collect(struct totals *t, bool per_pid, struct series **out)
{
	int i, g, k2, n = 0, cap = per_pid ? t->procs.nr : t->services.nr;
	struct series *xs = calloc(cap ? cap : 1, sizeof(*xs));

	if (!xs)
		return -1;
	if (!per_pid) {
		for (i = 0; i < t->services.nr; i++) {
			struct service_totals *s = &t->services.items[i];

			if (s->dropped)
				continue;
			xs[n] = (struct series){ .service = s->name, .container = s->container,
						 .heap_size = -1, .long_lived = -1, .rss = -1 };
			for (g = 0; g < 3; g++) {
				merge(&xs[n].h[g], s->retired[g]);
				xs[n].untimed[g] = s->untimed[g];
			}
			n++;
		}
	}
	for (i = 0; i < t->procs.nr; i++) {
		const struct proc_totals *p = &t->procs.items[i];
		struct series *x = NULL;
		int k;

		if (p->retired || !p->id.matched)
			continue;
		if (per_pid) {
			x = &xs[n++];
			*x = (struct series){ .service = p->id.service, .container = p->id.container,
					      .pid = p->pid, .heap_size = -1, .long_lived = -1, .rss = -1 };
		} else {
			for (k = 0; k < n && !x && p->service >= 0; k++)
				if (xs[k].service == t->services.items[p->service].name)
					x = &xs[k];
			if (!x)
				continue;	/* its service could not be allocated */
		}
		for (g = 0; g < 3; g++) {
			merge(&x->h[g], p->hist[g]);
			x->untimed[g] += totals__untimed(p, g);
		}
		add_gauge(&x->heap_size, p->heap_size);
		add_gauge(&x->long_lived, p->long_lived_total);
		if (!p->exited_ns)
			add_gauge(&x->rss, p->rss);
		x->procs += !p->exited_ns;
	}
	/* A service with neither pauses nor processes (a wrapper that exec'd) says nothing. */
	for (i = k2 = 0; i < n; i++) {
		bool any = xs[i].procs || xs[i].h[0] || xs[i].h[1] || xs[i].h[2] ||
			   xs[i].untimed[0] || xs[i].untimed[1] || xs[i].untimed[2];

		if (any)
			xs[k2++] = xs[i];
	}
	*out = xs;
	return k2;
}

void prometheus__render(FILE *f, struct totals *t, bool per_pid)
{
	struct series *xs = NULL;
	int n = collect(t, per_pid, &xs), i, g;

	fputs("# HELP python_gc_duration_seconds CPython garbage collection pauses, every one "
	      "(aggregated in the kernel).\n# TYPE python_gc_duration_seconds histogram\n", f);
	each(f, xs, n, duration_series);
	fputs("# HELP python_gc_collections_total Collections per generation.\n"
	      "# TYPE python_gc_collections_total counter\n", f);
	each(f, xs, n, collections_series);
	fputs("# HELP python_gc_objects_collected_total Objects freed by the collector.\n"
	      "# TYPE python_gc_objects_collected_total counter\n", f);
	each(f, xs, n, collected_series);
	fputs("# HELP python_gc_objects_uncollectable_total Objects the collector found "
	      "uncollectable.\n# TYPE python_gc_objects_uncollectable_total counter\n", f);
	each(f, xs, n, uncollectable_series);
	untimed(f, xs, n);
	gauge(f, xs, n, "python_gc_heap_objects",
	      "Objects tracked by the GC at the start of the last collection (3.14+), summed over "
	      "the live processes.", GAUGE_HEAP);
	gauge(f, xs, n, "python_gc_long_lived_objects",
	      "Objects that survived the last full collection (long_lived_total), summed over the "
	      "live processes.", GAUGE_LONG_LIVED);
	gauge(f, xs, n, "python_gc_rss_bytes",
	      "Resident memory at the last collection, summed over the live processes.", GAUGE_RSS);
	gauge(f, xs, n, "python_gc_processes", "Live traced processes.", GAUGE_PROCS);
	fprintf(f, "# HELP gcbpf_events_lost_total Events the ring buffer had no room for "
		"(the histograms still count them).\n# TYPE gcbpf_events_lost_total counter\n"
		"gcbpf_events_lost_total %llu\n", (unsigned long long)t->counters[GC_CNT_LOST]);
	fprintf(f, "# HELP gcbpf_read_errors_total Collections whose statistics could not be "
		"read.\n# TYPE gcbpf_read_errors_total counter\ngcbpf_read_errors_total %llu\n",
		(unsigned long long)t->counters[GC_CNT_READ_ERRORS]);
	fprintf(f, "# HELP gcbpf_collections_before_unknown_total Processes whose collections "
		"before gcbpf armed them could not be read.\n# TYPE "
		"gcbpf_collections_before_unknown_total counter\n"
		"gcbpf_collections_before_unknown_total %llu\n",
		(unsigned long long)t->before_unknown);
	fprintf(f, "# HELP gcbpf_build_info gcbpf's version.\n# TYPE gcbpf_build_info gauge\n"
		"gcbpf_build_info{version=\"%s\"} 1\n", GCBPF_VERSION);
	for (i = 0; i < n; i++)
		for (g = 0; g < 3; g++)
			free(xs[i].h[g]);
	free(xs);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct prometheus *p = cls;
	struct MHD_Response *resp;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result ret;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	if (!strcmp(url, "/metrics")) {
		pthread_mutex_lock(&p->totals->lock);
		prometheus__render(f, p->totals, p->per_pid);
		pthread_mutex_unlock(&p->totals->lock);
	} else if (!strcmp(url, "/")) {
		fputs("gcbpf: CPython GC metrics at /metrics\n", f);
	} else {
		fputs("not found: try /metrics\n", f);
		status = MHD_HTTP_NOT_FOUND;
	}
	fclose(f);
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* An open connection: its socket and when its current request must be in. */
struct prom_conn {
	struct prom_conn *next, **pprev;
	int fd;
	bool shut;
	__u64 deadline_ns;
};

static __u64 request_deadline(void)
{
	return mono_ns() + PROM_REQUEST_S * 1000000000ULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct prometheus *p = cls;
	struct prom_conn *c = *socket_context;
	const union MHD_ConnectionInfo *info;

	pthread_mutex_lock(&p->lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (c && info) {
			c->fd = info->connect_fd;
			c->deadline_ns = request_deadline();
			c->next = p->conns;
			c->pprev = &p->conns;
			if (p->conns)
				p->conns->pprev = &c->next;
			p->conns = c;
		} else {
			free(c);
			c = NULL;
		}
		*socket_context = c;
	} else if (c) {
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		free(c);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&p->lock);
}

/* A request answered: the next one on this connection gets a deadline of its own. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct prometheus *p = cls;
	const union MHD_ConnectionInfo *info;

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	pthread_mutex_lock(&p->lock);
	if (info && info->socket_context)
		((struct prom_conn *)info->socket_context)->deadline_ns = request_deadline();
	pthread_mutex_unlock(&p->lock);
}

/*
 * Once a second: a connection past its deadline is shut down (not closed:
 * the fd stays MHD's, which then sees the end and closes it).
 */
static void *reaper(void *arg)
{
	struct prometheus *p = arg;
	struct timespec ts;
	struct prom_conn *c;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		__u64 now = mono_ns();

		for (c = p->conns; c; c = c->next) {
			if (!c->shut && c->deadline_ns < now) {
				shutdown(c->fd, SHUT_RDWR);
				c->shut = true;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Connections allowed: PROM_MAX_CONNS, or fewer if the fd limit is low. */
static unsigned int max_conns(void)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return PROM_MAX_CONNS;
	/* A quarter of what gcbpf has at most: the rest stays for probes and files. */
	room = rl.rlim_cur / 4;
	return room < PROM_MAX_CONNS ? (room < 4 ? 4 : (unsigned int)room) : PROM_MAX_CONNS;
}

int prometheus__start(struct prometheus *p, struct totals *t)
{
	/* epoll: no FD_SETSIZE ceiling on the fd numbers gcbpf itself may reach. */
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD, conns = max_conns();
	pthread_condattr_t ca;

	p->totals = t;
	if (p->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	errno = 0;
	p->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, p, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&p->addr, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned int)PROM_IDLE_S, MHD_OPTION_CONNECTION_LIMIT, conns,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				     conns < PROM_MAX_PER_IP ? conns : (unsigned int)PROM_MAX_PER_IP,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, p,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, p, MHD_OPTION_END);
	if (!p->daemon) {
		int err = errno ? errno : EADDRINUSE;

		p_err("cannot serve Prometheus metrics on %s: %s", p->where, strerror(err));
		return -err;
	}
	if (pthread_create(&p->reaper, NULL, reaper, p)) {
		p_err("cannot serve Prometheus metrics on %s: cannot start a thread", p->where);
		MHD_stop_daemon(p->daemon);
		p->daemon = NULL;
		return -EAGAIN;
	}
	p->reaping = true;
	return 0;
}

void prometheus__stop(struct prometheus *p)
{
	if (p->reaping) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->reaper, NULL);
		p->reaping = false;
	}
	if (p->daemon)
		MHD_stop_daemon(p->daemon);
	p->daemon = NULL;
}

/* --prometheus as a sink: the server runs from start to finish. */
static int prometheus_start_sink(struct sink *s)
{
	struct prometheus *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	s->priv = p;
	if (prometheus__parse_addr(s->cfg->prometheus, &p->addr, p->where, sizeof(p->where))) {
		p_err("invalid --prometheus '%s': expected [ADDR:]PORT, e.g. 9464 or 0.0.0.0:9464",
		      s->cfg->prometheus);
		return -EINVAL;
	}
	p->per_pid = s->cfg->prometheus_pid;
	err = prometheus__start(p, s->totals);
	if (!err)
		p_info("Serving Prometheus metrics at http://%s/metrics", p->where);
	return err;
}

static void prometheus_finish_sink(struct sink *s, const struct sink_report *r)
{
	if (s->priv)
		prometheus__stop(s->priv);
}

static void prometheus_free_sink(struct sink *s)
{
	if (s->priv)
		prometheus__stop(s->priv);
	free(s->priv);
	s->priv = NULL;
}

const struct sink_ops prometheus_sink = {
	.name = "prometheus",
	.start = prometheus_start_sink,
	.finish = prometheus_finish_sink,
	.free = prometheus_free_sink,
};
