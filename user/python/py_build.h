/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A CPython build as found in one ELF file: its version, where its GC state
 * lives (gc_layout) and where a collection can be probed (USDT or symbols).
 * Everything comes from the file; the interpreter is never run.
 */
#ifndef GCBPF_PY_BUILD_H
#define GCBPF_PY_BUILD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/py_versions.h"

#define PY_BUILD_MAX_POINTS 8

/* One place to attach: an entry (uprobe, with a return probe) or a USDT pair. */
struct py_probe_point {
	char name[64];		/* symbol, or "python:gc__start" */
	uint64_t vaddr;		/* file vaddr of the instruction probed */
	uint64_t offset;	/* its file offset, what the kernel's uprobe takes */
	uint64_t semaphore;	/* USDT: file vaddr of its semaphore, 0 if none */
	uint64_t ref_ctr_offset;	/* ... the semaphore's file offset */
	uint32_t flags;		/* enum gc_probe_flags */
	struct gc_usdt_arg gen_arg;	/* USDT gc__start: where the generation is */
};

struct py_build {
	char path[PATH_MAX];	/* the file, as this process can open it */
	char display_path[PATH_MAX];	/* the file, as the target sees it */
	dev_t dev;
	ino_t ino;
	unsigned int version_hex;	/* PY_VERSION_HEX, micro may be 0 if unknown */
	int major, minor, micro;
	char version[32];	/* "3.11.2" */
	const char *version_source;	/* "Py_Version", "_Py_DebugOffsets", ... */
	const struct py_version *ver;	/* its row: every version-dependent fact */
	bool debug;		/* Py_DEBUG build (python3.X-dbg) */
	bool free_threaded;
	const char *symbols_from;	/* ".symtab", or the debug file's path */
	char debug_file[PATH_MAX];
	enum gc_probe_kind probe;
	struct py_probe_point points[PY_BUILD_MAX_POINTS];
	int nr_points;
	char why[512];		/* why this probe path was chosen */
	struct gc_layout layout;
};

struct py_build_opts {
	bool force_uprobe;	/* ignore USDT even when the build has it */
	/* The target's root directory, where its debug files are (target.root);
	 * NULL: /proc/PID/root for a path under /proc/PID, else ours. */
	const char *root;
};

/*
 * Fills b from the ELF file at path (display: the target's view of it).
 * On failure returns -errno and writes a one-line reason into err.
 * -ENOTSUP: a Python this tool cannot trace; -ENOEXEC: not Python at all.
 */
int py_build__inspect(struct py_build *b, const char *path, const char *display,
		      const struct py_build_opts *opts, char *err, size_t err_len);

/* "usdt" / "uprobe" */
const char *py_build__probe_name(enum gc_probe_kind kind);

#endif
