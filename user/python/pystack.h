/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names the frames the BPF side sends (code id, instruction): function
 * (co_qualname on 3.11+, co_name before), file and line, from the code
 * records the kernel copied while the frame ran (bpf/code.bpf.h). The
 * target's memory is never read here: a code object may be freed and its
 * memory reused by the time the loader would read it.
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

/*
 * One frame, resolved; func and file are interned (equal pointers: equal
 * strings). func NULL: an unknown frame ("?", JSON nulls), kept in place.
 */
struct py_frame_sym {
	const char *func;
	const char *file;
	int line;		/* -1: no line (the instruction has none, or unknown): JSON null */
	int first_line;		/* the code object's first line (its def), -1 unknown */
};

/* An event's stack as the outputs see it, innermost first. */
struct py_stack {
	bool unavailable;	/* this build gives no stacks: JSON "stack": null */
	bool truncated;		/* cut at the depth, or the chain could not be read further */
	int nr;
	int unknown;		/* frames of them with func NULL */
	struct py_frame_sym frames[GCBPF_MAX_STACK];
};

/* Causes of unknown frames past the kernel's (enum gc_frame_unknown). */
enum {
	PYSTACK_UNKNOWN_RECORD = GC_FRAME_UNKNOWN_MAX,	/* its code record never arrived */
	PYSTACK_UNKNOWN_DECODE,	/* a name too long or no valid text */
	PYSTACK_UNKNOWN_MAX,
};

/* What naming met (reported at exit). */
struct pystack_counts {
	__u64 events;		/* stacks resolved */
	__u64 frames;		/* frames named */
	__u64 unknown_frames;
	__u64 unknown[PYSTACK_UNKNOWN_MAX];	/* by cause */
	__u64 lines_unknown;	/* named, line beyond the table the kernel copied */
	__u64 bpf_faults;	/* the BPF walk ended at an unreadable frame */
	__u64 no_tstate;	/* no thread state found */
	__u64 records, records_bad, records_dropped;
};

struct pystack_entry;

struct pystack {
	int depth;
	struct py_frames *builds[GCBPF_MAX_BINARIES];	/* NULL: no stacks from that build */
	struct pystack_entry *codes;	/* code records by id, open addressing */
	size_t codes_cap, codes_used;
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
/* A code record from the ring (struct gc_code_record and its names). */
void pystack__add_record(struct pystack *ps, const void *data, size_t size);
/* The stack of e (s: what followed it in the ring, NULL if nothing). */
const struct py_stack *pystack__resolve(struct pystack *ps, const struct gc_event *e,
					const struct gc_stack *s);
/*
 * Names nr frames of a build (innermost first) into out; returns how many
 * are kept (frames Python hides are dropped), unknown ones counted into *unknown.
 */
int pystack__frames(struct pystack *ps, __u32 binary, const struct gc_frame *frames, __u32 nr,
		    struct py_frame_sym *out, int *unknown);
/* s, interned: one copy per distinct string, alive until pystack__free. NULL: no memory. */
const char *pystack__intern(struct pystack *ps, const char *s);
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
