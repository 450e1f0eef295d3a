// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include "python/py_versions.h"
#include "gcbpf.h"

/*
 * Sources (cpython-gc-internals.md): 3.6-3.12 offsets measured from DWARF of
 * pyenv builds (3.6.15 ... 3.12.1, GCC 12, x86_64) and of Debian's python3.11d,
 * and confirmed for Debian's stripped 3.11.2 from the disassembly of its
 * exported accessors; patch releases of one minor share them. 3.13+: the
 * _Py_DebugOffsets field positions and the GC-state offsets it does not
 * publish, from the headers (pyenv 3.13.0, Debian 3.14.10 and 3.15.2).
 * 3.14.0-3.14.4 is from source only (§9).
 */

/* struct gc_generation_stats, 3.6-3.14: generation_stats[3] of 24 bytes. */
#define REC_ARRAY { .size = 24, .collections = 0, .collected = 8, .uncollectable = 16, \
		    .candidates = -1, .heap_size = -1, .ts_start = -1, .ts_stop = -1 }

/* What gc__start's / gc__done's arg0 carry (§2: PyDTrace_GC_DONE(n + m)). */
#define USDT_ARGS .usdt_start_arg = "generation", .usdt_done_arg = "collected + uncollectable"

/* 3.6-3.12: every call of the collector is a collection of the generation the caller chose. */
#define CALLER_CHOOSES .entry_may_not_collect = false, .auto_gen = PY_GEN_CHOSEN

/* 3.13+: gc_collect_main(tstate, generation, reason); -1 from the automatic path. */
#define ARGS_313 .arg_tstate = 0, .arg_gen = 1, .arg_reason = 2, .entry_may_not_collect = true

/* PyGC_Collect's call: generation 2; 3.13+ also reason _Py_GC_REASON_MANUAL (2). */
#define DISASM_39 .disasm_gen = 2, .disasm_reason = -1, .disasm_wrapper = true
#define DISASM_313 .disasm_gen = 2, .disasm_reason = 2, .disasm_wrapper = false
#define NO_DISASM .disasm_gen = -1, .disasm_reason = -1, .disasm_wrapper = false

/* struct gc_generation { PyGC_Head head; int threshold; int count; }: 48 bytes up to 3.7
 * (PyGC_Head a 32-byte union), 24 from 3.8. */
#define GENS(off, en, g0) .generations_sym = NULL, .generations_off = off, \
			  .generation_size = 24, .threshold_off = 16, .enabled_off = en, \
			  .generation0_off = g0

/* Before 3.13 nothing in the file checks the GC state's size. */
#define UNCHECKED .dbg = NULL, .state_size = -1, .collecting_off = -1

/* 3.13+: the pointer chain comes from _Py_DebugOffsets. */
#define FROM_FILE .main_interp_off = -1, .tstate_interp_off = -1, .interp_id_off = -1, \
		  .gc_off = -1

/* The frame facts per minor (struct py_frame_facts, field order). */
#define FRAMES_6 { GC_TSTATE_GLOBAL, -1, -1, 24, -1, 24, 32, 120, -1, GC_INSTR_LASTI, 0, \
		   96, 104, 36, 112, -1, -1, PY_LINES_LNOTAB, 1, 48, 72, -1 }
#define FRAMES_7 { GC_TSTATE_GLOBAL, 1480, -1, 24, -1, 24, 32, 104, -1, GC_INSTR_LASTI, 0, \
		   96, 104, 36, 112, -1, -1, PY_LINES_LNOTAB, 1, 48, 72, -1 }
#define FRAMES_8 { GC_TSTATE_GLOBAL, 1368, -1, 24, -1, 24, 32, 104, -1, GC_INSTR_LASTI, 0, \
		   104, 112, 40, 120, -1, -1, PY_LINES_LNOTAB, 1, 48, 72, -1 }
#define FRAMES_9 { GC_TSTATE_GLOBAL, 568, -1, 24, -1, 24, 32, 104, -1, GC_INSTR_LASTI, 0, \
		   104, 112, 40, 120, -1, -1, PY_LINES_LNOTAB, 1, 48, 72, -1 }
/* 3.10: f_lasti counts code units */
#define FRAMES_10 { GC_TSTATE_GLOBAL, 568, -1, 24, -1, 24, 32, 96, -1, GC_INSTR_LASTI, 0, \
		    104, 112, 40, 120, -1, -1, PY_LINES_310, 2, 48, 72, -1 }
#define FRAMES_11 { GC_TSTATE_GLOBAL, 576, -1, 56, 8, 48, 32, 56, 69, GC_INSTR_PTR, 0, \
		    112, 128, 72, 136, 168, 184, PY_LINES_311, 0, 48, 72, -1 }
/* 3.12: PyInterpreterState._gil at 1040 */
#define FRAMES_12 { GC_TSTATE_GIL, -1, 1048, 56, 0, 8, 0, 56, 70, GC_INSTR_PTR, 0, \
		    112, 128, 68, 136, 176, 192, PY_LINES_311, 0, 40, 56, 92 }
#define FRAMES_13 { GC_TSTATE_GIL, -1, 7760, 72, -1, 8, 0, 56, 70, GC_INSTR_PTR, 0, \
		    112, 128, 68, 136, 184, 200, PY_LINES_311, 0, 40, 56, 92 }
#define FRAMES_14 { GC_TSTATE_GIL, -1, 7792, 72, -1, 8, 0, 56, 74, GC_INSTR_PTR, 3, \
		    112, 128, 68, 136, 192, 208, PY_LINES_311, 0, 40, 56, 92 }
#define FRAMES_15 { GC_TSTATE_GIL, -1, 7744, 72, -1, 8, 0, 56, 74, GC_INSTR_PTR, 3, \
		    112, 128, 68, 136, 192, 208, PY_LINES_311, 0, 40, 56, 92 }

static const struct py_frame_dbg_pos frames_dbg_313 = {
	584, 144, 184, 232, 240, 248, 264, 280, 296, 304, 312, 344, 560
};
static const struct py_frame_dbg_pos frames_dbg_314 = {
	760, 152, 208, 256, 264, 272, 288, 320, 336, 344, 352, 384, 640
};
static const struct py_frame_dbg_pos frames_dbg_315 = {
	888, 152, 208, 320, 328, 336, 352, 384, 400, 408, 416, 448, 736
};

static const struct py_debug_offsets_pos dbg_313 = {
	.size = 584, .interpreters_head = 40, .interp_id = 56, .interp_gc = 80,
	.tstate_interp = 176, .gc_size = 568, .gc_collecting = 576,
	.gc_generation_stats = -1, .gc_generation_stats_size = -1,
};

/* 3.14.0 and 3.14.5 share it: the generational forward-port changed only the GC state. */
static const struct py_debug_offsets_pos dbg_314 = {
	.size = 760, .interpreters_head = 40, .interp_id = 56, .interp_gc = 88,
	.tstate_interp = 200, .gc_size = 648, .gc_collecting = 656,
	.gc_generation_stats = -1, .gc_generation_stats_size = -1,
};

static const struct py_debug_offsets_pos dbg_315 = {
	.size = 888, .interpreters_head = 40, .interp_id = 56, .interp_gc = 88,
	.tstate_interp = 200, .gc_size = 752, .gc_collecting = 760,
	.gc_generation_stats = 784, .gc_generation_stats_size = 776,
};

const struct py_version py_versions[] = {
	{
		.name = "3.6", .minor = 6, .micro_min = 0, .micro_max = 255, .builds = PY_RELEASE,
		.collector = "collect", .clones = PY_CLONES_ALSO,
		.arg_tstate = -1, .arg_gen = 0, .arg_reason = -1, CALLER_CHOOSES, NO_DISASM,
		USDT_ARGS,
		/* Static globals: the anchor is the generation_stats array itself. */
		.anchor = "generation_stats", .anchor_local = true,
		.main_interp_off = -1, .tstate_interp_off = -1, .interp_id_off = -1, .gc_off = 0,
		UNCHECKED, .stats_off = 0, .long_lived_off = -1, .long_lived_pending_off = -1,
		.heap_size_off = -1,
		.generations_sym = "generations", .generations_off = 0, .generation_size = 48,
		.threshold_off = 32, .enabled_off = -1, .generation0_off = -1,
		.permanent_off = -1,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_6,
	},
	{
		.name = "3.7", .minor = 7, .micro_min = 0, .micro_max = 255, .builds = PY_RELEASE,
		.collector = "collect", .clones = PY_CLONES_ALSO,
		.arg_tstate = -1, .arg_gen = 0, .arg_reason = -1, CALLER_CHOOSES, NO_DISASM,
		USDT_ARGS,
		/* One GC for all interpreters, inside _PyRuntime. */
		.anchor = "_PyRuntime",
		.main_interp_off = -1, .tstate_interp_off = -1, .interp_id_off = -1, .gc_off = 0x140,
		UNCHECKED, .stats_off = 240, .long_lived_off = 336, .long_lived_pending_off = 344,
		.heap_size_off = -1,
		.generations_off = 32, .generation_size = 48, .threshold_off = 32, .enabled_off = 12,
		.generation0_off = 176,
		.permanent_off = 192,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_7,
	},
	{
		.name = "3.8", .minor = 8, .micro_min = 0, .micro_max = 255, .builds = PY_RELEASE,
		/* Only collect.constprop.0 (generation 2) and .1: no plain collect. */
		.collector = "collect", .clones = PY_CLONES_ONLY,
		.arg_tstate = -1, .arg_gen = -1, .arg_reason = -1, CALLER_CHOOSES, NO_DISASM,
		USDT_ARGS,
		.anchor = "_PyRuntime",
		.main_interp_off = -1, .tstate_interp_off = -1, .interp_id_off = -1, .gc_off = 0x158,
		UNCHECKED, .stats_off = 128, .long_lived_off = 224, .long_lived_pending_off = 232,
		.heap_size_off = -1,
		GENS(24, 12, 96),
		.permanent_off = 104,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_8,
	},
	{
		.name = "3.9", .minor = 9, .micro_min = 0, .micro_max = 255, .builds = PY_RELEASE,
		/* Per interpreter from here on; the collector takes the tstate. */
		.collector = "collect", .clones = PY_CLONES_EXTRA,
		.arg_tstate = 0, .arg_gen = 1, .arg_reason = -1, CALLER_CHOOSES, DISASM_39,
		USDT_ARGS,
		.anchor = "_PyRuntime",
		.main_interp_off = 0x28, .tstate_interp_off = 16, .interp_id_off = 24, .gc_off = 0x268,
		UNCHECKED, .stats_off = 128, .long_lived_off = 224, .long_lived_pending_off = 232,
		.heap_size_off = -1,
		GENS(24, 12, 96),
		.permanent_off = 104,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_9,
	},
	{
		.name = "3.10", .minor = 10, .micro_min = 0, .micro_max = 255, .builds = PY_RELEASE,
		.collector = "gc_collect_main", .clones = PY_CLONES_EXTRA,
		.arg_tstate = 0, .arg_gen = 1, .arg_reason = -1, CALLER_CHOOSES, DISASM_39,
		USDT_ARGS,
		.anchor = "_PyRuntime",
		.main_interp_off = 0x28, .tstate_interp_off = 16, .interp_id_off = 24, .gc_off = 0x268,
		UNCHECKED, .stats_off = 128, .long_lived_off = 224, .long_lived_pending_off = 232,
		.heap_size_off = -1,
		GENS(24, 12, 96),
		.permanent_off = 104,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_10,
	},
	{
		/* python3.11d (Debian's -dbg) measured: the same offsets as the release. */
		.name = "3.11", .minor = 11, .micro_min = 0, .micro_max = 255,
		.builds = PY_RELEASE | PY_DEBUG,
		.collector = "gc_collect_main", .clones = PY_CLONES_EXTRA,
		.arg_tstate = 0, .arg_gen = 1, .arg_reason = -1, CALLER_CHOOSES, DISASM_39,
		USDT_ARGS,
		.anchor = "_PyRuntime",
		.main_interp_off = 0x30, .tstate_interp_off = 16, .interp_id_off = 48, .gc_off = 0x288,
		UNCHECKED, .stats_off = 128, .long_lived_off = 224, .long_lived_pending_off = 232,
		.heap_size_off = -1,
		GENS(24, 12, 96),
		.permanent_off = 104,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_11,
	},
	{
		.name = "3.12", .minor = 12, .micro_min = 0, .micro_max = 255, .builds = PY_RELEASE,
		.collector = "gc_collect_main", .clones = PY_CLONES_EXTRA,
		.arg_tstate = 0, .arg_gen = 1, .arg_reason = -1, CALLER_CHOOSES, DISASM_39,
		USDT_ARGS,
		.anchor = "_PyRuntime",
		.main_interp_off = 0x30, .tstate_interp_off = 16, .interp_id_off = 8, .gc_off = 0x70,
		UNCHECKED, .stats_off = 128, .long_lived_off = 224, .long_lived_pending_off = 232,
		.heap_size_off = -1,
		GENS(24, 12, 96),
		.permanent_off = 104,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_12,
	},
	{
		/* Generational: the incremental GC was reverted before 3.13.0. */
		.name = "3.13", .minor = 13, .micro_min = 0, .micro_max = 255,
		.builds = PY_RELEASE | PY_DEBUG,
		.collector = "gc_collect_main", .clones = PY_CLONES_EXTRA, ARGS_313, .auto_gen = -1,
		DISASM_313, USDT_ARGS,
		.anchor = "_PyRuntime", FROM_FILE, .dbg = &dbg_313,
		.state_size = 240, .collecting_off = 200,
		.stats_off = 128, .long_lived_off = 224, .long_lived_pending_off = 232,
		.heap_size_off = -1,
		GENS(24, 12, 96),
		.permanent_off = 104,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_13,
		.frames_dbg = &frames_dbg_313,
	},
	{
		/* Incremental: _PyGC_Collect dispatches; automatic GC is always an
		 * increment of generation 1; no long_lived counters (source only). */
		.name = "3.14.0-3.14.4", .minor = 14, .micro_min = 0, .micro_max = 4,
		.builds = PY_RELEASE | PY_DEBUG,
		.collector = "_PyGC_Collect", .clones = PY_CLONES_EXTRA, ARGS_313, .auto_gen = 1,
		DISASM_313, USDT_ARGS,
		.anchor = "_PyRuntime", FROM_FILE, .dbg = &dbg_314,
		.state_size = 240, .collecting_off = 192,
		.stats_off = 120, .long_lived_off = -1, .long_lived_pending_off = -1,
		.heap_size_off = 216,
		GENS(24, 12, -1),
		.permanent_off = 96,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_14,
		.frames_dbg = &frames_dbg_314,
	},
	{
		/* Generational again (gh-148726); new members appended: 240 -> 264. */
		.name = "3.14.5+", .minor = 14, .micro_min = 5, .micro_max = 255,
		.builds = PY_RELEASE | PY_DEBUG,
		.collector = "gc_collect_main", .clones = PY_CLONES_EXTRA, ARGS_313, .auto_gen = -1,
		DISASM_313, USDT_ARGS,
		.anchor = "_PyRuntime", FROM_FILE, .dbg = &dbg_314,
		.state_size = 264, .collecting_off = 192,
		.stats_off = 120, .long_lived_off = 240, .long_lived_pending_off = 248,
		.heap_size_off = 216,
		GENS(24, 12, 256),
		.permanent_off = 96,
		.stats_kind = GC_STATS_ARRAY, .rec = REC_ARRAY,
		.frames = FRAMES_14,
		.frames_dbg = &frames_dbg_314,
	},
	{
		/* The statistics moved to a heap-allocated seqlock ring (GIL build). */
		.name = "3.15", .minor = 15, .micro_min = 0, .micro_max = 255,
		.builds = PY_RELEASE | PY_DEBUG,
		.collector = "gc_collect_main", .clones = PY_CLONES_EXTRA, ARGS_313, .auto_gen = -1,
		DISASM_313, USDT_ARGS,
		.anchor = "_PyRuntime", FROM_FILE, .dbg = &dbg_315,
		.state_size = 176, .collecting_off = 112,
		.stats_off = 104, .long_lived_off = 152, .long_lived_pending_off = 160,
		.heap_size_off = 144,
		GENS(8, 0, 168),
		.permanent_off = 80,
		.stats_kind = GC_STATS_RING,
		/* struct gc_generation_stats: ts_start, ts_stop, collections, collected,
		 * uncollectable, candidates, duration, heap_size. ts_*: PyTime_PerfCounterRaw
		 * = CLOCK_MONOTONIC (bpf_ktime_get_ns's clock), taken after gc__start and
		 * before the record is written, which is before gc__done (gc.c). */
		.rec = { .size = 64, .collections = 16, .collected = 24, .uncollectable = 32,
			 .candidates = 40, .heap_size = 56, .ts_start = 0, .ts_stop = 8 },
		/* struct gc_stats: young ring of 11, two old rings of 3, then update_seq;
		 * _Py_DebugOffsets gives only its size, which pins this layout. */
		.ring = { .bytes = 1120, .items_off = { 0, 712, 912 },
			  .index_off = { 704, 904, 1104 }, .len = { 11, 3, 3 }, .seq_off = 1112 },
		.frames = FRAMES_15,
		.frames_dbg = &frames_dbg_315,
	},
};

const size_t py_versions_nr = sizeof(py_versions) / sizeof(py_versions[0]);

const struct py_version *py_versions__find(int minor, int micro, bool debug)
{
	unsigned int build = debug ? PY_DEBUG : PY_RELEASE;
	size_t i;

	for (i = 0; i < py_versions_nr; i++) {
		const struct py_version *v = &py_versions[i];

		if (v->minor == minor && micro >= v->micro_min && micro <= v->micro_max &&
		    (v->builds & build))
			return v;
	}
	return NULL;
}

int py_versions__lookup(const struct py_version **v, int major, int minor, int micro,
			bool debug, char *err, size_t err_len)
{
	const struct py_version *oldest = &py_versions[0], *newest = &py_versions[py_versions_nr - 1];

	*v = major == 3 ? py_versions__find(minor, micro, debug) : NULL;
	if (*v)
		return 0;
	if (major != 3 || minor < oldest->minor)
		snprintf(err, err_len, "Python %d.%d.%d is not supported (3.%d or newer)", major,
			 minor, micro, oldest->minor);
	else if (minor > newest->minor)
		snprintf(err, err_len, "Python 3.%d is newer than this gcbpf knows (3.%d-3.%d)",
			 minor, oldest->minor, newest->minor);
	else if (debug && py_versions__find(minor, micro, false))
		snprintf(err, err_len, "no GC layout for Python 3.%d debug builds (only release "
			 "builds of 3.%d are measured)", minor, minor);
	else
		snprintf(err, err_len, "no GC layout for Python 3.%d.%d%s", minor, micro,
			 debug ? " (debug build)" : "");
	return -ENOTSUP;
}

__u32 py_version__probe_flags(const struct py_version *v)
{
	__u32 flags = 0;

	if (v->arg_tstate == 0)
		flags |= GC_PROBE_TSTATE_RDI;
	if (v->arg_gen == 1)
		flags |= GC_PROBE_GEN_ESI;
	if (v->arg_reason == 2)
		flags |= GC_PROBE_REASON_RDX;
	return flags;
}
