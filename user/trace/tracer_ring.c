// SPDX-License-Identifier: GPL-2.0
/*
 * The rings the BPF side writes, as the loader reads them: the event ring
 * (one record per collection, its stack behind it) and the process-event
 * ring (exec), handed to the session's callbacks; the poll that drains
 * them, and how often the BPF side wakes it.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <bpf/libbpf.h>
#include "gcbpf.skel.h"
#include "util/log.h"
#include "python/pystack.h"
#include "trace/tracer.h"
#include "trace/inside.h"
#include "trace/tracer_ring.h"
#include "trace/tracer_watchdog.h"

static int handle_proc_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size >= sizeof(struct gc_proc_event) && t->opts.on_exec)
		t->opts.on_exec(t->opts.ctx, data);
	return 0;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct gc_event *e = data;
	const struct gc_stack *st = (const void *)(e + 1);

	/* Code records come before the events that refer to them. */
	if (size >= sizeof(__u32) && e->record == GC_REC_CODE) {
		if (t->opts.stacks)
			pystack__add_record(t->opts.stacks, data, size);
		return 0;
	}
	/* Samples come before the event of their collection. */
	if (size >= sizeof(__u32) && (e->record == GC_REC_SAMPLE || e->record == GC_REC_INSIDE_END)) {
		if (t->opts.inside)
			inside__record(t->opts.inside, data, size);
		return 0;
	}
	if (size < sizeof(*e) || e->record != GC_REC_EVENT)
		return 0;
	t->ev_stack = NULL;
	if ((e->flags & GC_EV_STACK) && size >= sizeof(*e) + sizeof(*st) &&
	    st->nr <= (size - sizeof(*e) - sizeof(*st)) / sizeof(st->frames[0]))
		t->ev_stack = st;
	t->opts.on_event(t->opts.ctx, e);
	t->ev_stack = NULL;
	return 0;
}

/*
 * Events per CPU between forced wakeups: with every CPU one short of it, the
 * ring is half full (a record is the event, its stack as stack__bytes()
 * sizes it, and the ring's 8-byte header, 8-aligned). Fewer wakeups than
 * that gain nothing: a wakeup costs ~10 us, spread over thousands of events.
 */
__u32 ring__wakeup_every(const struct gcbpf_bpf *skel, int depth)
{
	size_t rec = sizeof(struct gc_event) +
		     (depth ? sizeof(struct gc_stack) + depth * sizeof(struct gc_frame) : 0);
	size_t ring = bpf_map__max_entries(skel->maps.events);
	int ncpu = libbpf_num_possible_cpus();
	size_t n;

	rec = (rec + 7) / 8 * 8 + 8;
	n = ring / 2 / rec / (ncpu > 0 ? ncpu : 1);
	return n < 1 ? 1 : n > 65536 ? 65536 : n;
}

/* The event ring, read in tracer__poll: every event goes to opts.on_event. */
int ring__open(struct tracer *t, char *ebuf, size_t elen)
{
	int err;

	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		err_fill(ebuf, elen, err, "cannot set up the ring buffer: %s", strerror(-err));
		return err;
	}
	/*
	 * A ring is readable whenever it holds data: level-triggered, every poll
	 * would return at once while events flow, a wakeup per few hundred
	 * events. Edge-triggered, it returns on the BPF side's forced wakeups
	 * only (or the timeout): each poll drains the ring whole, so nothing
	 * waits longer than a poll interval. data.fd: libbpf's index, 0.
	 */
	if (epoll_ctl(ring_buffer__epoll_fd(t->rb), EPOLL_CTL_MOD, bpf_map__fd(t->skel->maps.events),
		      &(struct epoll_event){ .events = EPOLLIN | EPOLLET, .data.fd = 0 }))
		p_debug("the event ring stays level-triggered: %s", strerror(errno));
	return 0;
}

/* Process events (exec), read with the events: opts.on_exec. */
int ring__add_proc_events(struct tracer *t)
{
	return ring_buffer__add(t->rb, bpf_map__fd(t->skel->maps.proc_events), handle_proc_event, t);
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	int n = ring_buffer__poll(t->rb, timeout_ms);

	watchdog__check(t);

	if (n == -EINTR)
		n = 0;
	/* The BPF side wakes us only for large batches: collect the rest. */
	if (n >= 0)
		n = ring_buffer__consume(t->rb);
	if (t->opts.on_batch)
		t->opts.on_batch(t->opts.ctx);
	return n == -EINTR ? 0 : n;
}

void tracer__drain(struct tracer *t)
{
	if (t->rb)
		ring_buffer__consume(t->rb);
}
