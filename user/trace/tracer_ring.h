/* SPDX-License-Identifier: GPL-2.0 */
/* The tracer's rings and its poll (tracer__poll, tracer__drain: tracer.h). */
#ifndef GCBPF_TRACER_RING_H
#define GCBPF_TRACER_RING_H

#include <stddef.h>
#include <linux/types.h>

struct tracer;
struct gcbpf_bpf;

/* targ_wakeup_every: events per CPU between forced wakeups (depth: frames per event). */
__u32 ring__wakeup_every(const struct gcbpf_bpf *skel, int depth);
/* After load: the event ring. 0 or -errno, why in err. */
int ring__open(struct tracer *t, char *ebuf, size_t elen);
/* The process-event ring, read with the events. 0 or -errno. */
int ring__add_proc_events(struct tracer *t);

#endif
