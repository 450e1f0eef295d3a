/* SPDX-License-Identifier: GPL-2.0 */
/* --inside: a CPU-clock perf event per CPU, the BPF sampling program attached to each. */
#ifndef GCBPF_SAMPLER_H
#define GCBPF_SAMPLER_H

#include <stddef.h>

struct bpf_program;
struct bpf_link;

/*
 * Opens the events at hz per CPU and attaches prog to them; each link is
 * handed to add (which owns it, and the event's fd with it). 0 or -errno,
 * why in err.
 */
int sampler__attach(struct bpf_program *prog, unsigned int hz,
		    int (*add)(void *ctx, struct bpf_link *link), void *ctx, char *err,
		    size_t err_len);

#endif
