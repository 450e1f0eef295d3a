/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where each CPython version keeps its GC state: a measured table for
 * 3.6-3.12, and _Py_DebugOffsets read from the file for 3.13+.
 */
#ifndef GCBPF_LAYOUT_H
#define GCBPF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "elf_file.h"

/* The parts of _Py_DebugOffsets gcbpf uses, as read from a file. */
struct debug_offsets {
	__u64 version;		/* PY_VERSION_HEX */
	__u64 free_threaded;
	__u64 interpreters_head;	/* runtime_state.interpreters_head */
	__u64 interp_id;	/* interpreter_state.id */
	__u64 interp_gc;	/* interpreter_state.gc */
	__u64 tstate_interp;	/* thread_state.interp */
	__u64 gc_size;		/* gc.size: sizeof the GC state */
	__u64 gc_collecting;	/* gc.collecting */
	__u64 gc_generation_stats;	/* 3.15: gc.generation_stats (pointer) */
	__u64 gc_generation_stats_size;	/* 3.15: sizeof(struct gc_stats) */
};

/*
 * Reads _Py_DebugOffsets from the .PyRuntime section. Returns 0, -ENOENT when
 * the file has none (before 3.13), -EPROTO when the cookie or version is not
 * one this table knows.
 */
int debug_offsets__read(struct elf_file *ef, struct debug_offsets *d, __u64 *runtime_vaddr);

/*
 * Fills l for a build of 3.minor (anchor_vaddr is set by the caller). d is the
 * file's _Py_DebugOffsets for 3.13+, NULL before. Returns 0, or -ENOTSUP with
 * a reason in err when the version or build is not in the table or the file's
 * offsets disagree with it.
 */
int layout__fill(struct gc_layout *l, int minor, int micro, bool debug,
		 const struct debug_offsets *d, char *err, size_t err_len);

#endif
