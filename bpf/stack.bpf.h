/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --stacks: the Python frames of the collecting thread, appended to its
 * event as (code id, instruction) pairs; the code records the walk sends
 * before the event name them (code.bpf.h, user/python/pystack.c).
 * Included by gcbpf.bpf.c after struct inflight.
 *
 * The walk runs in gc_exit after the exit timestamp, so it is not part of
 * the measured pause. The chain at the exit is the one at the entry: the
 * collector runs below the Python frames, and the callbacks and finalizers
 * it runs push and pop their own frames above them.
 *
 * Thread state: the collector's first argument where the probe has it
 * (uprobe, 3.9+), else the global current-tstate pointer (<= 3.11) or the
 * interpreter's GIL holder (3.12+), the collecting thread while it collects.
 * Cost: two bpf_probe_read_user per frame (the frame, its code object;
 * <= 3.11 eight: also the name, file name and line table, header and data
 * each, code.bpf.h says why), plus two or three to find the first frame,
 * plus a code record per code object met the first time.
 */
#ifndef GCBPF_STACK_BPF_H
#define GCBPF_STACK_BPF_H

const volatile __u32 targ_stack_depth = 0;	/* frames per event; 0: no stacks */
const volatile __u32 targ_inside_depth = 0;	/* --inside: frames per sample; 0: no sampling */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GCBPF_MAX_BINARIES);
	__type(key, __u32);
	__type(value, struct gc_stack_layout);
} stack_layouts SEC(".maps");

#define STACK_READ_MAX 128	/* bytes read per frame, at most */
/* Frames visited beyond the depth: C-stack shims (3.12+) are skipped, not kept. */
#define STACK_MAX_VISITS (2 * GCBPF_MAX_STACK + 2)

/* Bytes the event record carries after struct gc_event. */
static __always_inline __u32 stack__bytes(void)
{
	return targ_stack_depth ? sizeof(struct gc_stack) +
				  targ_stack_depth * sizeof(struct gc_frame) : 0;
}

/* At the entry: what only the entry knows (the argument, the load bias). */
static __always_inline void stack__enter(struct pt_regs *ctx, const struct gc_probe *p,
					 struct inflight *st)
{
	if (!targ_stack_depth && !targ_inside_depth)
		return;
	st->stack_bias = PT_REGS_IP(ctx) - p->vaddr;
	st->stack_tstate = (p->flags & GC_PROBE_TSTATE_RDI) ? PT_REGS_PARM1(ctx) : 0;
}

/* Fields of the frame buffer; aligned offsets keep the verifier's stack rules. */
static __always_inline __u64 frame_u64(const __u64 *buf, __s32 off)
{
	return buf[(off & (STACK_READ_MAX - 8)) / 8];
}

static __always_inline __s32 frame_s32(const __u64 *buf, __s32 off)
{
	return ((const __s32 *)buf)[(off & (STACK_READ_MAX - 4)) / 4];
}

static __always_inline __u8 frame_u8(const __u64 *buf, __s32 off)
{
	return ((const __u8 *)buf)[off & (STACK_READ_MAX - 1)];
}

/* The collecting thread's state: the probe's argument, else where the build keeps it. */
static __always_inline __u64 stack__tstate(const struct inflight *st, const struct gc_layout *l,
					   const struct gc_stack_layout *sl)
{
	__u64 tstate = st->stack_tstate, addr;

	if (!tstate) {
		if (sl->tstate_from == GC_TSTATE_GLOBAL)
			addr = st->stack_bias + l->anchor_vaddr + sl->tstate_anchor_off;
		else
			addr = st->gcstate ? st->gcstate - l->gc_off + sl->gil_holder_off : 0;
		if (addr && bpf_probe_read_user(&tstate, sizeof(tstate), (void *)addr))
			tstate = 0;
	}
	return tstate;
}

/* The innermost frame of thread state tstate; 0 with *status set if none. */
static __always_inline __u64 stack__frame_of(__u64 tstate, const struct gc_stack_layout *sl,
					     __u16 *status)
{
	__u64 frame = 0;

	if (!tstate) {
		*status = GC_STACK_NO_TSTATE;
		return 0;
	}
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)(tstate + sl->tstate_frame_off)))
		goto fault;
	if (sl->cframe_frame_off >= 0 && frame &&
	    bpf_probe_read_user(&frame, sizeof(frame), (void *)(frame + sl->cframe_frame_off)))
		goto fault;
	*status = GC_STACK_OK;
	return frame;
fault:
	*status = GC_STACK_FAULT;
	return 0;
}

/*
 * Frames as the walk finds them, per CPU: copied into the event in one go,
 * or sent as a sample (the header right before the frames). Slots as
 * code_scratch's.
 */
struct stack_scratch {
	struct gc_sample sample;
	struct gc_frame frames[GCBPF_MAX_STACK];
	__u64 stop;		/* a frame where the walk ends (--inside: the collector's caller), or 0 */
	__u32 nr, status;
	__u64 buf[STACK_READ_MAX / 8];	/* the frame being read */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

#include "code.bpf.h"

/* Small: it is on the stack of the exit programs, near the 512-byte limit. */
struct walk_ctx {
	const struct gc_stack_layout *sl;
	struct stack_scratch *out;	/* ->stop: where the walk ends */
	__u64 frame;
	struct code_ctx code;	/* code.slot 1: a sample (depth targ_inside_depth) */
	__u16 len, status;
	__u32 n;
};

/*
 * One frame per call (bpf_loop: the verifier checks the body once, where a
 * bounded loop of 514 visits is too many states). 1 ends the walk.
 */
static long stack__frame(__u32 i, struct walk_ctx *w)
{
	const struct gc_stack_layout *sl = w->sl;
	__u64 *buf = w->out->buf, back, code;
	struct gc_frame *fr;
	__u32 n = w->n, len = w->len;

	if (!w->frame || w->frame == w->out->stop)
		return 1;
	if (len > STACK_READ_MAX)
		len = STACK_READ_MAX;
	/* The whole frame's fields in one read. */
	if (bpf_probe_read_user(buf, len, (void *)(w->frame + sl->read_off))) {
		w->status = GC_STACK_FAULT;
		return 1;
	}
	back = frame_u64(buf, sl->back_off);
	if (sl->owner_off >= 0 && frame_u8(buf, sl->owner_off) > sl->owner_max) {
		w->frame = back;	/* a shim the C stack or the thread owns */
		return 0;
	}
	if (n >= (w->code.slot ? targ_inside_depth : targ_stack_depth) || n >= GCBPF_MAX_STACK) {
		w->status = GC_STACK_DEPTH;
		return 1;
	}
	code = frame_u64(buf, sl->code_off) & ~sl->code_tag_mask;
	if (!code) {
		w->status = GC_STACK_FAULT;
		return 1;
	}
	fr = &w->out->frames[n & (GCBPF_MAX_STACK - 1)];
	fr->instr = sl->instr_kind == GC_INSTR_LASTI ? frame_s32(buf, sl->instr_off)
		    : (__s32)(frame_u64(buf, sl->instr_off) - code);
	fr->owner = sl->owner_off >= 0 ? frame_u8(buf, sl->owner_off) : 0;
	/* An unnamed frame stays in place: the walk goes on outward. */
	w->frame = back;
	/* Not started yet: hidden, not counted towards the depth. */
	if (code__frame(sl, code, &w->code, fr))
		return 0;
	w->n = n + 1;
	return 0;
}

/*
 * Walks the collecting thread's frames into the per-CPU scratch, sending
 * the code records they need: before the event is reserved, so that every
 * record precedes, in the ring, the event that refers to it.
 */
static __noinline void stack__capture(const struct inflight *st, const struct gc_layout *l,
				  __u32 pid)
{
	struct walk_ctx w = {};
	__u32 binary = st->binary, zero = 0;

	if (!targ_stack_depth)
		return;
	w.out = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!w.out)
		return;
	w.out->nr = 0;
	w.out->stop = 0;
	w.out->status = GC_STACK_NONE;
	w.sl = bpf_map_lookup_elem(&stack_layouts, &binary);
	if (!w.sl || !w.sl->read_len)
		return;
	w.len = w.sl->read_len;
	w.code.bias = st->stack_bias;
	w.code.pid = pid;
	w.frame = stack__frame_of(stack__tstate(st, l, w.sl), w.sl, &w.status);
	bpf_loop(STACK_MAX_VISITS, stack__frame, &w, 0);
	if (w.frame && w.status == GC_STACK_OK)
		w.status = GC_STACK_DEPTH;	/* more shims than visits */
	if (w.status == GC_STACK_FAULT)
		count(GC_CNT_STACK_FAULT);
	w.out->nr = w.n;
	w.out->status = w.status;
}

/* Appends the captured stack to e (reserved with stack__bytes() after it). */
static __always_inline void stack__fill(const struct inflight *st, struct gc_event *e)
{
	struct gc_stack *s = (void *)(e + 1);
	struct stack_scratch *out;
	__u32 zero = 0, n;
	__u64 bytes;

	if (!targ_stack_depth)
		return;
	e->flags |= GC_EV_STACK;
	s->load_bias = st->stack_bias;
	s->nr = 0;
	s->status = GC_STACK_NONE;
	out = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!out)
		return;
	n = out->nr;
	bytes = (__u64)n * sizeof(struct gc_frame);
	/* One register for the check and the argument, or the verifier sees
	 * an unchecked copy. */
	asm volatile("" : "+r"(bytes));
	if (bytes <= targ_stack_depth * sizeof(struct gc_frame) && bytes &&
	    bpf_probe_read_kernel(s->frames, bytes, out->frames))
		n = 0;
	s->nr = n;
	s->status = out->status;
}

#endif
