/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every fact about CPython that differs between versions or builds, one row
 * per version family (py_versions.c). py_build, layout, disasm and the
 * bpftrace one-liner consult these rows and nothing else; a new CPython
 * version is a new row plus its tests. Sources: cpython-gc-internals.md.
 */
#ifndef GCBPF_PY_VERSIONS_H
#define GCBPF_PY_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* py_version.builds: which builds of the family the row describes. */
enum py_builds {
	PY_RELEASE = 1 << 0,
	PY_DEBUG = 1 << 1,	/* Py_DEBUG (python3.X-dbg, python3.Xd) */
};

/* py_version.clones: what GCC's clones (.constprop.N/.isra.N) of the collector are. */
enum py_clones {
	PY_CLONES_EXTRA,	/* the plain symbol is the collector; a clone is one more entry */
	PY_CLONES_ALSO,		/* plain symbol and .constprop.0 (generation 2 folded in) */
	PY_CLONES_ONLY,		/* no plain symbol: clones are the only entries (3.8) */
};

/* Statistics record: one generation's cumulative counters (struct gc_generation_stats). */
struct py_gc_record {
	int size;		/* stride between generations (array) or ring slots */
	int collections, collected, uncollectable;
	int candidates, heap_size;	/* 3.15; -1: not in the record */
	int ts_start, ts_stop;	/* 3.15: the collection's own CLOCK_MONOTONIC ns; -1: none */
};

/* 3.15's struct gc_stats: per generation a ring of records, the newest at its index. */
struct py_gc_ring {
	int bytes;		/* sizeof(struct gc_stats) == _Py_DebugOffsets gc.generation_stats_size */
	int items_off[3];	/* young.items, old[0].items, old[1].items */
	int index_off[3];	/* their int8 index: the newest slot */
	int len[3];		/* slots per ring */
	int seq_off;		/* uint32 update_seq, a seqlock: odd while the writer is at it */
};

/* Where gcbpf's fields sit inside _Py_DebugOffsets (3.13+): per minor, not published. */
struct py_debug_offsets_pos {
	int size;		/* sizeof(_Py_DebugOffsets) */
	int interpreters_head, interp_id, interp_gc, tstate_interp;
	int gc_size, gc_collecting;
	int gc_generation_stats, gc_generation_stats_size;	/* -1 before 3.15 */
};

/* How a code object maps instruction offsets to lines. */
enum py_line_kind {
	PY_LINES_LNOTAB = 0,	/* <= 3.9: co_lnotab, (byte delta, line delta) pairs */
	PY_LINES_310 = 1,	/* 3.10: co_linetable, (byte delta, line delta or -128) pairs */
	PY_LINES_311 = 2,	/* 3.11+: co_linetable, the location table (varint entries) */
};

/*
 * Python frames, for walking the stack at a collection (py_frames.c), in
 * bytes. Checked with `gdb -batch -ex 'print (long)&((T *)0)->field'` on
 * the DWARF of pyenv 3.6.15 ... 3.12.1 (libpython, GCC 12) and Debian's
 * python3.11d (3.11.2, equal to 3.11.7's); 3.13-3.15 from pyenv 3.13.0 and
 * sid's python3.13d/3.14d/3.15d, and replaced at run time by the file's own
 * _Py_DebugOffsets values (positions below). Owners >= 3 (enum _frameowner:
 * CSTACK, INTERPRETER) are shims, never Python frames.
 */
struct py_frame_facts {
	/* thread state -> innermost frame */
	int tstate_from;	/* enum gc_tstate_from */
	int tstate_global;	/* GLOBAL: offset in _PyRuntime; -1: the symbol _PyThreadState_Current */
	int gil_holder;		/* GIL: PyInterpreterState -> _gil.last_holder */
	int tstate_frame;	/* PyThreadState.frame / .cframe / .current_frame */
	int cframe_frame;	/* _PyCFrame.current_frame, -1: none */
	/* frame: PyFrameObject (<= 3.10) or _PyInterpreterFrame */
	int back, code, instr, owner;	/* f_back/previous, f_code/f_executable, f_lasti/instr, owner */
	int instr_kind;		/* enum gc_instr_kind */
	int tag_mask;		/* 3.14+: f_executable is a _PyStackRef (Py_TAG_BITS = 3) */
	/* PyCodeObject */
	int co_filename, co_name, co_firstlineno, co_lines, co_firsttraceable, co_code;
	int lines;		/* enum py_line_kind */
	int lasti_unit;		/* <= 3.10: bytes per f_lasti unit */
	/* sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject): where the characters start */
	int ascii_size, compact_size;
	int co_version;		/* 3.12+: uint32, a per-interpreter counter: no two code objects share one; -1 */
};

/* 3.13+: where the frame facts' values sit inside _Py_DebugOffsets. */
struct py_frame_dbg_pos {
	int size;
	int gil_holder, current_frame, back, code, instr, owner;
	int co_filename, co_name, co_lines, co_firstlineno, co_code, ascii_size;
};

struct py_version {
	const char *name;	/* "3.14.0-3.14.4", for messages */
	int minor;
	int micro_min, micro_max;	/* patch releases the row covers */
	unsigned int builds;	/* enum py_builds */

	/* The collector (§1a/§1b): the function that performs one collection. */
	const char *collector;	/* its symbol; clones are collector.constprop.N etc. */
	enum py_clones clones;
	/* Its entry's argument positions (0 = rdi, 1 = rsi, 2 = rdx), -1: not passed.
	 * Clones' are unknown (IPA moves them). */
	int arg_tstate, arg_gen, arg_reason;
	/* An entry/exit pair may be no collection (3.13+: the collector returns
	 * early when another is running or no threshold is exceeded). */
	bool entry_may_not_collect;
	/* The generation automatic entries pass: -1 (GENERATION_AUTO, 3.13+),
	 * 1 (3.14.0-3.14.4: every automatic entry is an increment), PY_GEN_CHOSEN
	 * (the caller chose it: the one collected). */
	int auto_gen;

	/* Stripped, no USDT: what disassembling PyGC_Collect looks for (disasm.c). */
	int disasm_gen;		/* esi at its one call of the collector; -1: not possible */
	int disasm_reason;	/* edx there (_Py_GC_REASON_MANUAL), -1: no reason argument */
	bool disasm_wrapper;	/* gc.callbacks run in a wrapper around the collector, which
				 * LTO may keep out of line: look through it (3.9-3.12) */

	/* USDT python:gc__start / gc__done (§2): what arg0 means. */
	const char *usdt_start_arg, *usdt_done_arg;

	/* The GC state (§3). */
	const char *anchor;	/* symbol the offsets start from */
	bool anchor_local;	/* a file-static: only .symtab has it (3.6) */
	/* 3.6-3.12: measured (DWARF); -1: not in this version. 3.13+: from the file. */
	int main_interp_off;	/* _PyRuntimeState.interpreters.main */
	int tstate_interp_off;	/* PyThreadState.interp */
	int interp_id_off;	/* PyInterpreterState.id */
	int gc_off;		/* PyInterpreterState.gc, or _PyRuntimeState.gc (3.7/3.8) */
	/* 3.13+: where the fields above are in _Py_DebugOffsets; NULL before. */
	const struct py_debug_offsets_pos *dbg;
	/* Inside the GC state; 3.13+ checked against gc.size / gc.collecting. */
	int state_size, collecting_off;	/* -1: not checked (before 3.13) */
	int stats_off;		/* generation_stats[3], or (ring) the struct gc_stats pointer */
	int long_lived_off;	/* long_lived_total, -1: none */
	int long_lived_pending_off;	/* long_lived_pending, -1: none */
	int heap_size_off;	/* heap_size (3.14+), -1: none */

	/*
	 * The collector's configuration, read for the advice (gc_config.c):
	 * gc.get_threshold() is each generation's `threshold`, gc.isenabled()
	 * `enabled`. Checked with gdb `ptype /o struct _gc_runtime_state` on the
	 * DWARF of pyenv 3.7-3.13, python3.11d, sid's python3.14d/3.15d, and
	 * against gc.set_threshold() in each build (tests/test_advice.py).
	 */
	const char *generations_sym;	/* 3.6: the static generations[] (.symtab); NULL: in the state */
	int generations_off;	/* GC state (or generations_sym) -> generations[0]; 3.14.0-4: young, old[2] */
	int generation_size;	/* sizeof(struct gc_generation) */
	int threshold_off;	/* gc_generation.threshold (int) */
	int enabled_off;	/* GC state -> int enabled; -1: not in it (3.6: a static) */
	/* GC state -> PyGC_Head *generation0 (== &generations[0].head), -1: none. Preferred
	 * to generations_off: builds of one minor differ (Debian 3.13.18 has the
	 * generations at 20, pyenv 3.13.0 at 24; both DWARF and memory agree). */
	int generation0_off;
	/* GC state -> permanent_generation.head (gc.freeze()'s list; gdb ptype /o of the
	 * builds above); -1: no gc.freeze() (3.6). */
	int permanent_off;

	/* The statistics (§3d). */
	int stats_kind;		/* enum gc_stats_kind */
	struct py_gc_record rec;
	struct py_gc_ring ring;	/* GC_STATS_RING only; all 0 otherwise */

	/* Python frames (stack walking, §frames). */
	struct py_frame_facts frames;
	const struct py_frame_dbg_pos *frames_dbg;	/* 3.13+; NULL before */
};

#define PY_GEN_CHOSEN 99	/* py_version.auto_gen: the caller chose the generation */

extern const struct py_version py_versions[];
extern const size_t py_versions_nr;

/* The row for 3.minor.micro (debug: a Py_DEBUG build), or NULL. */
const struct py_version *py_versions__find(int minor, int micro, bool debug);

/*
 * The same, with a one-line reason in err when there is none: older or newer
 * than the table, or a build (debug) the table has not measured. -ENOTSUP.
 */
int py_versions__lookup(const struct py_version **v, int major, int minor, int micro,
			bool debug, char *err, size_t err_len);

/* enum gc_probe_flags of the named collector's own entry (not a clone's). */
__u32 py_version__probe_flags(const struct py_version *v);

#endif
