/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --inside: where a collection's time goes. The loader opens a CPU-clock
 * perf event per CPU with inside_sample attached; it returns at once
 * unless the interrupted thread is inside a traced collection (`active`
 * in its task storage, set between the collector's entry and exit). Then
 * it sends a sample: the user-space instruction pointer (the native
 * function the collector was in) and the Python frames above the
 * collector's caller (the finalizers and callbacks the collection runs),
 * walked as --stacks walks them and named by the same code records.
 *
 * The entry finds the thread state and its innermost frame once
 * (inside__enter): a sample walks from that thread state, never from the
 * GIL holder or the global current thread state of the moment (a
 * finalizer may release the GIL), and stops at the entry's frame, so the
 * trigger site's frames are not counted as code run by the collection.
 * Included by gcbpf.bpf.c after stack.bpf.h.
 */
#ifndef GCBPF_INSIDE_BPF_H
#define GCBPF_INSIDE_BPF_H

#define INSIDE_SLOT 1	/* the scratch slot of samples (stack.bpf.h) */

/* At the collector's entry: the thread state and the frame samples stop at. */
static __always_inline void inside__enter(struct inflight *st, const struct gc_layout *l)
{
	const struct gc_stack_layout *sl;
	__u32 binary = st->binary;
	__u16 status;

	if (!targ_inside_depth)
		return;
	st->inside_samples = 0;
	st->inside_tstate = 0;
	st->inside_base = 0;
	sl = bpf_map_lookup_elem(&stack_layouts, &binary);
	if (!sl || !sl->read_len)
		return;
	st->inside_tstate = stack__tstate(st, l, sl);
	st->inside_base = stack__frame_of(st->inside_tstate, sl, &status);
	if (status != GC_STACK_OK)
		st->inside_tstate = 0;	/* no proof of where to stop: no frames */
}

/* A sampled collection that sends no event: its samples' end, and its generation. */
static __always_inline void inside__end(struct inflight *st, int gen, __u64 ts_stop)
{
	struct gc_inside_end *r;
	__u64 pid_tgid;

	if (!targ_inside_depth || !st->inside_samples)
		return;
	st->inside_samples = 0;
	pid_tgid = pidns__pid_tgid(NULL);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(GC_CNT_SAMPLES_LOST);
		return;
	}
	r->record = GC_REC_INSIDE_END;
	r->pid = pid_tgid >> 32;
	r->tid = (__u32)pid_tgid;
	r->gen = gen;
	r->ts_start = st->ts_start;
	r->ts_stop = ts_stop;
	bpf_ringbuf_submit(r, 0);
}

/* The user-space instruction pointer of the interrupted thread; 0 if unknown. */
static __always_inline __u64 inside__ip(struct bpf_perf_event_data *ctx, __u32 *flags)
{
	__u64 ip[1] = {};

	/* CPL 3: the timer interrupted user space, whose registers ctx has. */
	if ((ctx->regs.csx & 3) == 3)
		return ctx->regs.ip;
	*flags |= GC_SAMPLE_KERNEL;
	/* In the kernel (a page fault, a syscall): the user registers saved at its entry. */
	if (bpf_get_stack(ctx, ip, sizeof(ip), BPF_F_USER_STACK) <= 0) {
		*flags |= GC_SAMPLE_NO_IP;
		return 0;
	}
	return ip[0];
}

static __noinline int inside__sample(struct bpf_perf_event_data *ctx, struct inflight *st)
{
	struct walk_ctx w = {};
	struct gc_sample *s;
	__u32 slot = INSIDE_SLOT, binary = st->binary, flags = 0;
	__u64 pid_tgid = pidns__pid_tgid(NULL), bytes;

	if (!pid_tgid)
		return 0;
	w.out = bpf_map_lookup_elem(&stack_scratch, &slot);
	if (!w.out)
		return 0;
	s = &w.out->sample;
	s->ip = inside__ip(ctx, &flags);
	w.status = GC_STACK_NONE;
	w.sl = bpf_map_lookup_elem(&stack_layouts, &binary);
	if (w.sl && w.sl->read_len && st->inside_tstate) {
		w.len = w.sl->read_len;
		w.out->stop = st->inside_base;
		w.code.bias = st->stack_bias;
		w.code.pid = pid_tgid >> 32;
		w.code.slot = INSIDE_SLOT;
		w.frame = stack__frame_of(st->inside_tstate, w.sl, &w.status);
		if (w.status == GC_STACK_OK)
			bpf_loop(STACK_MAX_VISITS, stack__frame, &w, 0);
		/* Not back at the entry's frame: more frames than the depth, or a fault. */
		if (w.status == GC_STACK_OK && w.frame && w.frame != w.out->stop)
			w.status = GC_STACK_DEPTH;
	} else {
		flags |= GC_SAMPLE_NO_WALK;
	}
	s->record = GC_REC_SAMPLE;
	s->pid = pid_tgid >> 32;
	s->tid = (__u32)pid_tgid;
	s->binary = binary;
	s->ts_start = st->ts_start;
	s->ts = bpf_ktime_get_ns();
	s->nr = w.n;
	s->status = w.status;
	s->flags = flags;
	bytes = sizeof(*s) + (__u64)w.n * sizeof(struct gc_frame);
	asm volatile("" : "+r"(bytes));
	if (bytes > sizeof(*s) + GCBPF_MAX_STACK * sizeof(struct gc_frame))
		return 0;
	if (bpf_ringbuf_output(&events, s, bytes, 0)) {
		count(GC_CNT_SAMPLES_LOST);
		return 0;
	}
	st->inside_samples++;
	count(GC_CNT_SAMPLES);
	return 0;
}

SEC("perf_event")
int inside_sample(struct bpf_perf_event_data *ctx)
{
	struct inflight *st;

	/* Every CPU, ~1000 times a second: nothing more unless in a collection. */
	st = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
	if (!st || !st->active)
		return 0;
	return inside__sample(ctx, st);
}

#endif
