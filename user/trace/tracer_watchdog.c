// SPDX-License-Identifier: GPL-2.0
/*
 * Stops at exec (launch mode): the BPF side stops a followed process at
 * its exec until the loader armed the new image's probes; here, its
 * continuation, the sweep that continues every process still stopped when
 * following ends, and the watchdog process that does the same when gcbpf
 * dies first.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gcbpf.skel.h"
#include "util/log.h"
#include "trace/tracer.h"
#include "trace/tracer_watchdog.h"

/*
 * How long a BPF program that read stops_live just before it was cleared
 * may still be running (it sends the SIGSTOP, then marks `tracked`).
 */
#define STOP_GRACE_NS 20000000L

/*
 * No more stops at exec, then a SIGCONT for every process stopped at an
 * exec (marked TRACKED_STOPPED), whatever its state now: one whose SIGSTOP
 * is still pending must get it too (a SIGCONT cancels a pending stop), and
 * one that was continued already does not mind. drain: read the events
 * still queued first (the loader; NULL for the watchdog). Syscalls only, so
 * that the watchdog can run it. Returns how many were sent a SIGCONT.
 */
static int disarm_and_sweep(volatile __u32 *stops_live, int tracked_fd, struct tracer *drain)
{
	struct timespec grace = { 0, STOP_GRACE_NS };
	__u32 key, next, *prev = NULL;
	__u8 mark;
	int n = 0;

	*stops_live = 0;
	__sync_synchronize();
	nanosleep(&grace, NULL);
	if (drain)
		ring_buffer__consume(drain->rb);	/* arms and continues those reported */
	while (!bpf_map_get_next_key(tracked_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(tracked_fd, &key, &mark) && mark == TRACKED_STOPPED &&
		    !kill(key, SIGCONT))
			n++;
	}
	return n;
}

void tracer__stop_following(struct tracer *t)
{
	if (!t->opts.stop_on_exec || !t->skel)
		return;
	disarm_and_sweep(&t->skel->data->stops_live, bpf_map__fd(t->skel->maps.tracked), t);
}

void tracer__continue(struct tracer *t, pid_t pid)
{
	if (kill(pid, SIGCONT) && errno != ESRCH)
		p_warn("cannot continue pid %d: %s", pid, strerror(errno));
}

/* Closes every fd from 3 on but a and b. */
static void close_fds_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

/*
 * The watchdog: waits for gcbpf to end (EOF on the pipe; a byte first when
 * it ended normally and swept already), then disarms and sweeps, so even a
 * SIGKILLed gcbpf leaves nothing stopped. It holds no program, link or
 * ring buffer fd (they would keep probes alive): only the pipe and
 * `tracked`; stops_live is the .data mapping, shared across fork.
 */
static void __attribute__((noreturn)) watchdog_main(int rd, int tracked_fd,
						    volatile __u32 *stops_live)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN,
				       SIGTTOU, SIGPIPE, SIGUSR1, SIGUSR2 };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	ssize_t r;
	size_t i;
	char c;
	int n;

	/* Its own process group: a terminal's Ctrl-C is for gcbpf and the command. */
	setpgid(0, 0);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "gcbpf-watchdog");
	if (devnull >= 0) {
		/* Nobody waits for EOF on gcbpf's stdout because of us; stderr stays. */
		dup2(devnull, 0);
		dup2(devnull, 1);
	}
	close_fds_except(rd, tracked_fd);
	do
		r = read(rd, &c, 1);
	while (r < 0 && errno == EINTR);
	n = disarm_and_sweep(stops_live, tracked_fd, NULL);
	if (r != 1 && n)
		p_warn("gcbpf ended without continuing the processes it stopped at exec: its "
		       "watchdog continued %d", n);
	_exit(0);
}

/* Before anything can be stopped: the watchdog, a child that outlives gcbpf. */
int watchdog__start(struct tracer *t, char *ebuf, size_t elen)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return err_fill(ebuf, elen, -errno, "cannot create the watchdog's pipe: %s",
				strerror(errno));
	fflush(NULL);	/* nothing buffered is written twice */
	t->watchdog = fork();
	if (t->watchdog < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		t->watchdog = 0;
		return err_fill(ebuf, elen, err, "cannot fork the watchdog that continues stopped "
				"processes: %s", strerror(-err));
	}
	if (t->watchdog == 0) {
		close(p[1]);
		watchdog_main(p[0], bpf_map__fd(t->skel->maps.tracked), &t->skel->data->stops_live);
	}
	close(p[0]);
	t->watchdog_fd = p[1];
	return 0;
}

void watchdog__stop(struct tracer *t)
{
	if (t->watchdog <= 0)
		return;
	/* Swept already (tracer__stop_following), or nothing was ever stopped. */
	if (write(t->watchdog_fd, "e", 1) != 1)
		p_debug("cannot tell the watchdog: %s", strerror(errno));
	close(t->watchdog_fd);
	while (waitpid(t->watchdog, NULL, 0) < 0 && errno == EINTR)
		;
	t->watchdog = 0;
}

/* Without its watchdog, stopping at exec is no longer safe: it ends. */
void watchdog__check(struct tracer *t)
{
	if (t->watchdog <= 0 || waitpid(t->watchdog, NULL, WNOHANG) != t->watchdog)
		return;
	t->watchdog = 0;
	close(t->watchdog_fd);
	t->skel->data->stops_live = 0;
	p_warn("gcbpf's watchdog ended: processes are no longer stopped at exec, so a new "
	       "binary may miss its first collections");
}
