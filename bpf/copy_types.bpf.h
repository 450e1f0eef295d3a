/* SPDX-License-Identifier: GPL-2.0 */
/* The per-interpreter copies of copy.bpf.h: part of struct inflight. */
#ifndef GCBPF_COPY_TYPES_BPF_H
#define GCBPF_COPY_TYPES_BPF_H

#define GC_COPY_SLOTS 4		/* interpreters per process with a copy; more take turns */
#define GC_COPY_WORDS 9		/* generation_stats[3]: collections, collected, uncollectable */

struct interp_copy {
	__s64 w[GC_COPY_WORDS];	/* the statistics at the last exit */
	__u64 gcstate;		/* which interpreter: GC state, id, address space */
	__s64 iid;
	__u64 mm;
	__u32 busy_tid;		/* a thread between entry and exit that uses this copy, 0: none */
	__u32 trusted;		/* w holds >= 2 collections */
};

/* Used in the main thread's storage only. */
struct proc_copies {
	struct interp_copy slot[GC_COPY_SLOTS];
	__u32 next;		/* slot to reuse when all are taken */
};

#endif /* GCBPF_COPY_TYPES_BPF_H */
