/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names the frames the BPF side sends (code object, instruction): function
 * (co_qualname on 3.11+, co_name before), file and line, read from the
 * target with process_vm_readv (read-only). A cache keyed by (pid, code
 * address) remembers what was read; every use re-reads the code object's
 * header and re-resolves when it changed (a freed and reused address).
 */
#ifndef GCBPF_PYSTACK_H
#define GCBPF_PYSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gcbpf.h"
#include "python/py_build.h"
#include "python/py_frames.h"

#define PYSTACK_DEFAULT_DEPTH 64

/* One frame, resolved; func and file are interned (equal pointers: equal strings). */
struct py_frame_sym {
	const char *func;
	const char *file;
	int line;		/* -1: the instruction has no line (JSON null) */
};

/* An event's stack as the outputs see it, innermost first. */
struct py_stack {
	bool unavailable;	/* this build gives no stacks: JSON "stack": null */
	bool truncated;		/* cut at the depth, or a frame could not be read */
	int nr;
	struct py_frame_sym frames[GCBPF_MAX_STACK];
};

/* Frames that could not be named, by cause (reported at exit). */
struct pystack_counts {
	__u64 events;		/* stacks resolved */
	__u64 frames;
	__u64 bpf_faults;	/* the BPF walk ended at an unreadable frame */
	__u64 no_tstate;	/* no thread state found */
	__u64 read_failures;	/* target memory unreadable from user space */
	__u64 bad_objects;	/* memory that is not (or no longer) the expected object */
	__u64 cache_hits, cache_misses, cache_stale;
};

struct pystack_entry;

struct pystack {
	int depth;
	struct py_frames *builds[GCBPF_MAX_BINARIES];	/* NULL: no stacks from that build */
	struct pystack_entry *cache;
	size_t cache_cap, cache_used;
	char **strs;		/* interned strings, open addressing */
	size_t strs_cap, strs_used;
	struct pystack_counts counts;
	struct py_stack cur;
};

void pystack__init(struct pystack *ps, int depth);
/*
 * A build the tracer registered as idx: fills sl and returns 0 when its
 * frames can be walked; else -ENOTSUP, said (the tracer registers a binary once).
 */
int pystack__add_build(struct pystack *ps, int idx, const struct py_build *b,
		       struct gc_stack_layout *sl);
/* The stack of e (s: what followed it in the ring, NULL if nothing). */
const struct py_stack *pystack__resolve(struct pystack *ps, const struct gc_event *e,
					const struct gc_stack *s);
/* One line to stderr when frames went unnamed. */
void pystack__report(const struct pystack *ps);
void pystack__free(struct pystack *ps);

/* --stacks[=DEPTH]: 0, or -1 when arg is no depth in 1..GCBPF_MAX_STACK. */
int pystack__parse_depth(const char *arg, int *depth);

/* The decoders, exposed for the unit tests. */
/* The line of byte offset addr in code of first line firstlineno; -1: none. */
int pystack__line(enum py_line_kind kind, const uint8_t *table, size_t len, int firstlineno,
		  int addr);
/*
 * A str's characters (length code points of kind 1/2/4 bytes) as UTF-8 into
 * out (NUL-terminated). Returns the bytes written, or -1 when out is too
 * small or a code point is no Unicode scalar value.
 */
int pystack__utf8(const void *data, size_t length, int kind, char *out, size_t out_len);

#endif
