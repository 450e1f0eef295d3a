/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a CPython build keeps its GC state, as the BPF side reads it (struct
 * gc_layout): the version's row (py_versions.c), and for 3.13+ the file's own
 * _Py_DebugOffsets.
 */
#ifndef GCBPF_LAYOUT_H
#define GCBPF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "elf/elf_file.h"
#include "python/py_versions.h"

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
 * one py_versions knows.
 */
int debug_offsets__read(struct elf_file *ef, struct debug_offsets *d, __u64 *runtime_vaddr);

/*
 * Fills l for a build of version v (anchor_vaddr is set by the caller). d is
 * the file's _Py_DebugOffsets where v has them (3.13+), else NULL. Returns 0,
 * or -ENOTSUP with a reason in err when the file's offsets disagree with v or
 * v's statistics do not fit the BPF side's buffers.
 */
int layout__fill(struct gc_layout *l, const struct py_version *v, const struct debug_offsets *d,
		 char *err, size_t err_len);

#endif
