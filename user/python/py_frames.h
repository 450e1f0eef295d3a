/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where each CPython version keeps its frames, code objects and strings:
 * what the BPF side needs to walk the frame chain (struct gc_stack_layout)
 * and what user space needs to name the frames, from the version table's
 * frame facts (py_versions.c); 3.13+ from the file's _Py_DebugOffsets.
 */
#ifndef GCBPF_PY_FRAMES_H
#define GCBPF_PY_FRAMES_H

#include <stddef.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/py_build.h"
#include "python/py_versions.h"


struct py_frames {
	struct gc_stack_layout bpf;	/* also the code object's fields the kernel reads */
	int minor;
	int co_code;		/* 3.11+: co_code_adaptive (bytecode inline); -1 */
	enum py_line_kind lines;
	int lasti_unit;		/* <= 3.10: bytes per f_lasti unit (1; 3.10: 2) */
	char source[160];	/* where the offsets were checked */
};

/*
 * Fills f for build b (re-reads b's file for symbols and _Py_DebugOffsets).
 * 0, or -ENOTSUP with a one-line reason in err: stacks cannot be had from
 * this build (no row, free-threaded, the file disagrees with the table).
 */
int py_frames__fill(struct py_frames *f, const struct py_build *b, char *err, size_t err_len);

#endif
