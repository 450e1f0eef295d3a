// SPDX-License-Identifier: GPL-2.0
/*
 * A tracing run's poll loop: events as they come, the kernel's totals
 * refreshed and gone processes retired, each process's GC thresholds
 * re-read, system-wide rescans, interval reports, lost events said; until
 * a signal, -d, top's q, or no target left.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include "trace/clock.h"
#include "util/log.h"
#include "trace/session_state.h"

#define SEC_NS 1000000000ULL
#define RESCAN_S 5		/* system-wide: look for newly mapped libpythons this often */
#define REFRESH_S 10		/* totals from the kernel, and exited processes retired */
#define RETIRE_GRACE_NS (60 * 1000000000ULL)	/* exported 60 s (a scrape interval) after exit */
#define SERVICE_IDLE_NS (300 * 1000000000ULL)	/* a service without processes: exported 5 min */

/* A -p target: its pidfd is readable once it exited (a kernel without pidfds: /proc). */
static bool target_running(struct session *s, int i)
{
	struct pollfd p = { .fd = s->pidfds[i], .events = POLLIN };

	if (p.fd < 0)
		return target__alive(&s->targets[i]);
	return poll(&p, 1, 0) <= 0;	/* an error (EINTR): asked again at the next poll */
}

/* True once nothing is left to trace. */
static bool targets_done(struct session *s)
{
	int i, alive = 0;

	if (s->opt->mode == MODE_SYSTEM)
		return false;
	if (s->opt->mode == MODE_LAUNCH)
		return launch__reap(&s->child, false);
	for (i = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		if (!t->exited && !target_running(s, i)) {
			t->exited = true;
			p_debug("pid %d (%s) exited", t->pid, t->comm);
		}
		alive += !t->exited;
	}
	return alive == 0;
}

static void warn_losses(struct session *s, __u64 *seen_lost)
{
	__u64 c[GC_CNT_MAX];

	tracer__counters(&s->tracer, c);
	if (c[GC_CNT_LOST] > *seen_lost) {
		p_warn("%llu events lost: the ring buffer was full (the pause table still counts "
		       "them; lower the event rate with a filter)",
		       (unsigned long long)(c[GC_CNT_LOST] - *seen_lost));
		*seen_lost = c[GC_CNT_LOST];
	}
}

/*
 * The kernel's histograms and counters into the totals; with retire,
 * processes gone for the grace period are retired and their kernel entries
 * deleted, so memory stays bounded while processes come and go.
 */
void session__refresh(struct session *s, bool retire)
{
	__u64 grace = RETIRE_GRACE_NS > 2 * s->opt->interval_ns ? RETIRE_GRACE_NS
								 : 2 * s->opt->interval_ns;
	pid_t gone[64];
	int i, n = 0;

	pthread_mutex_lock(&s->totals.lock);
	tracer__for_each_hist(&s->tracer, totals__set_hist, &s->totals);
	tracer__counters(&s->tracer, s->totals.counters);
	if (retire) {
		n = totals__retire(&s->totals, mono_ns(), grace, gone, 64);
		totals__expire_services(&s->totals, mono_ns(), SERVICE_IDLE_NS);
	}
	for (i = 0; i < n; i++)
		tracer__forget_pid(&s->tracer, gone[i]);
	pthread_mutex_unlock(&s->totals.lock);
}

/*
 * The advice's thresholds, from each live process's memory: located once,
 * re-read every GC_CONFIG_REFRESH_NS (gc.set_threshold), never per event;
 * the reads happen outside the lock the exporter shares.
 */
static void read_gc_configs(struct session *s)
{
	struct due { pid_t pid; struct gc_config c; } *due;
	__u64 now = mono_ns();
	int i, n = 0;

	if (!s->opt->sinks.advice && !s->opt->sinks.top)
		return;
	pthread_mutex_lock(&s->totals.lock);
	due = calloc(s->totals.procs.nr + 1, sizeof(*due));
	for (i = 0; due && i < s->totals.procs.nr; i++) {
		const struct proc_totals *p = &s->totals.procs.items[i];

		if (!p->retired && !p->exited_ns && gc_config__due(&p->gc, now))
			due[n++] = (struct due){ p->pid, p->gc };
	}
	pthread_mutex_unlock(&s->totals.lock);
	for (i = 0; i < n; i++)
		gc_config__refresh(&due[i].c, due[i].pid, &s->tracer, now);
	pthread_mutex_lock(&s->totals.lock);
	for (i = 0; i < n; i++) {
		struct proc_totals *p = totals__proc(&s->totals, due[i].pid, NULL);

		if (p)
			p->gc = due[i].c;
	}
	pthread_mutex_unlock(&s->totals.lock);
	free(due);
}

int session__poll_loop(struct session *s)
{
	const struct options *opt = s->opt;
	__u64 start = mono_ns(), seen_lost = 0, last_report = start;
	/* By the clock, not per poll: a poll returns early on each wakeup. */
	__u64 next_second = start + SEC_NS, next_refresh = start + REFRESH_S * SEC_NS;
	__u64 next_rescan = start + RESCAN_S * SEC_NS, now;
	int err = 0;

	while (!exiting && !s->write_err) {
		if (outputs__idle(&s->out))
			break;	/* top's q */
		err = tracer__poll(&s->tracer, 100);
		if (err < 0) {
			p_err("reading events failed: %s", strerror(-err));
			break;
		}
		err = 0;
		/* A permission error arming a binary: every other would fail too. */
		if (s->follow.err == -EPERM || s->follow.err == -EACCES) {
			err = s->follow.err;
			break;
		}
		if (targets_done(s))
			break;
		now = mono_ns();
		if (opt->duration_ns && now - start >= opt->duration_ns)
			break;
		if (now >= next_refresh) {
			session__refresh(s, true);
			next_refresh = now + REFRESH_S * SEC_NS;
		} else if (opt->sinks.prometheus && now >= next_second) {
			session__refresh(s, false);
		}
		if (now >= next_second) {
			warn_losses(s, &seen_lost);
			read_gc_configs(s);
			next_second = now + SEC_NS;
		}
		/* Interpreters embedded in programs that are not Python (libpython
		 * dlopen'ed after exec) show up only in /proc/PID/maps. */
		if (opt->mode == MODE_SYSTEM && now >= next_rescan) {
			follower__scan(&s->follow);
			next_rescan = now + RESCAN_S * SEC_NS;
		}
		if (opt->interval_ns && mono_ns() - last_report >= opt->interval_ns) {
			__u64 t = mono_ns();

			session__refresh(s, false);
			pthread_mutex_lock(&s->totals.lock);
			outputs__report(&s->out, &s->totals, t - last_report, t - s->start_ns);
			pthread_mutex_unlock(&s->totals.lock);
			last_report = t;
		}
	}
	/* On every path: nothing stays stopped. */
	tracer__stop_following(&s->tracer);
	tracer__drain(&s->tracer);
	warn_losses(s, &seen_lost);
	return err ?: s->write_err;
}
