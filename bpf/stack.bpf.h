/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --stacks: the Python frames of the collecting thread, appended to its
 * event as (code object, instruction) pairs; user space names them
 * (user/pystack.c). Included by gcbpf.bpf.c after struct inflight.
 *
 * The walk runs in gc_exit after the exit timestamp, so it is not part of
 * the measured pause. The chain at the exit is the one at the entry: the
 * collector runs below the Python frames, and the callbacks and finalizers
 * it runs push and pop their own frames above them.
 *
 * Thread state: the collector's first argument where the probe has it
 * (uprobe, 3.9+), else the global current-tstate pointer (<= 3.11) or the
 * interpreter's GIL holder (3.12+), the collecting thread while it collects.
 * Cost: one bpf_probe_read_user per frame, plus two or three to find the
 * first frame.
 */
#ifndef GCBPF_STACK_BPF_H
#define GCBPF_STACK_BPF_H

const volatile __u32 targ_stack_depth = 0;	/* frames per event; 0: no stacks */

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
	if (!targ_stack_depth)
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

/* The innermost frame of the collecting thread; 0 with *status set if none. */
static __always_inline __u64 stack__first_frame(const struct inflight *st, const struct gc_layout *l,
						const struct gc_stack_layout *sl, __u32 *status)
{
	__u64 tstate = st->stack_tstate, frame = 0, addr;

	if (!tstate) {
		if (sl->tstate_from == GC_TSTATE_GLOBAL)
			addr = st->stack_bias + l->anchor_vaddr + sl->tstate_anchor_off;
		else
			addr = st->gcstate ? st->gcstate - l->gc_off + sl->gil_holder_off : 0;
		if (addr && bpf_probe_read_user(&tstate, sizeof(tstate), (void *)addr))
			tstate = 0;
	}
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

/* Frames as the walk finds them, per CPU: copied into the event in one go. */
struct stack_scratch {
	struct gc_frame frames[GCBPF_MAX_STACK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

struct walk_ctx {
	__u64 buf[STACK_READ_MAX / 8];	/* the frame being read; zeroed once */
	const struct gc_stack_layout *sl;
	struct stack_scratch *out;
	__u64 frame;
	__u32 len, n, status;
};

/*
 * One frame per call (bpf_loop: the verifier checks the body once, where a
 * bounded loop of 514 visits is too many states). 1 ends the walk.
 */
static long stack__frame(__u32 i, struct walk_ctx *w)
{
	const struct gc_stack_layout *sl = w->sl;
	__u64 *buf = w->buf, back, code;
	__u32 n = w->n, len = w->len;

	if (!w->frame)
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
	if (n >= targ_stack_depth || n >= GCBPF_MAX_STACK) {
		w->status = GC_STACK_DEPTH;
		return 1;
	}
	code = frame_u64(buf, sl->code_off) & ~sl->code_tag_mask;
	if (!code) {
		w->status = GC_STACK_FAULT;
		return 1;
	}
	w->out->frames[n].code = code;
	w->out->frames[n].instr = sl->instr_kind == GC_INSTR_LASTI ? frame_s32(buf, sl->instr_off)
				  : (__s32)(frame_u64(buf, sl->instr_off) - code);
	w->out->frames[n].owner = sl->owner_off >= 0 ? frame_u8(buf, sl->owner_off) : 0;
	w->n = n + 1;
	w->frame = back;
	return 0;
}

/* Appends the stack to e (reserved with stack__bytes() after it). */
static __noinline void stack__walk(const struct inflight *st, const struct gc_layout *l,
			       struct gc_event *e)
{
	struct gc_stack *s = (void *)(e + 1);
	struct walk_ctx w = {};
	__u32 binary = st->binary, zero = 0;
	__u64 bytes;

	if (!targ_stack_depth)
		return;
	e->flags |= GC_EV_STACK;
	s->load_bias = st->stack_bias;
	s->nr = 0;
	s->status = GC_STACK_NONE;
	w.sl = bpf_map_lookup_elem(&stack_layouts, &binary);
	w.out = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!w.sl || !w.out || !w.sl->read_len)
		return;
	w.len = w.sl->read_len;
	w.frame = stack__first_frame(st, l, w.sl, &w.status);
	bpf_loop(STACK_MAX_VISITS, stack__frame, &w, 0);
	if (w.frame && w.status == GC_STACK_OK)
		w.status = GC_STACK_DEPTH;	/* more shims than visits */
	if (w.status == GC_STACK_FAULT)
		count(GC_CNT_STACK_FAULT);
	bytes = (__u64)w.n * sizeof(struct gc_frame);
	/* One register for the check and the argument, or the verifier sees
	 * an unchecked copy. */
	asm volatile("" : "+r"(bytes));
	if (bytes <= targ_stack_depth * sizeof(struct gc_frame) && bytes &&
	    bpf_probe_read_kernel(s->frames, bytes, w.out->frames))
		w.n = 0;
	s->nr = w.n;
	s->status = w.status;
}

#endif
