// SPDX-License-Identifier: GPL-2.0
/*
 * py_versions: every row consistent with itself and with the BPF side's
 * buffers; the lookup per version; and, per version, the facts the code gave
 * before the table existed (values taken from layout.c, py_build.c, disasm.c
 * and out_bpftrace.c as they were at 6e0cb69).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "python/layout.h"
#include "out/out_bpftrace.h"
#include "python/py_build.h"
#include "python/py_versions.h"

static bool inside(int off, int size, int limit)
{
	return off >= 0 && off + size <= limit;
}

/* A file's _Py_DebugOffsets that agrees with row v. */
static struct debug_offsets dbg_for(const struct py_version *v)
{
	struct debug_offsets d = {
		.version = 3u << 24 | v->minor << 16 | v->micro_min << 8 | 0xf0,
		.interpreters_head = 808,
		.interp_id = 24,
		.interp_gc = 7408,
		.tstate_interp = 16,
		.gc_size = v->state_size,
		.gc_collecting = v->collecting_off,
		.gc_generation_stats = v->stats_kind == GC_STATS_RING ? v->stats_off : 0,
		.gc_generation_stats_size = v->stats_kind == GC_STATS_RING ? v->ring.bytes : 0,
	};
	return d;
}

static void test_row(const struct py_version *v)
{
	const struct py_gc_record *r = &v->rec;
	struct debug_offsets d = dbg_for(v);
	struct gc_layout l = { .anchor_vaddr = 0x1000 };
	char err[256];
	int i;

	CHECK(v->name && v->name[0] && v->minor >= 6 && v->micro_min >= 0 &&
	      v->micro_min <= v->micro_max && v->micro_max <= 255 && v->builds, "%s: row key",
	      v->name);
	/* The collector, its arguments and the disassembly search agree. */
	CHECK(v->collector && v->collector[0], "%s: collector", v->name);
	CHECK(v->arg_tstate <= 0 && v->arg_gen >= -1 && v->arg_gen <= 1 &&
	      (v->arg_reason == -1 || v->arg_reason == 2), "%s: argument positions", v->name);
	CHECK(v->clones != PY_CLONES_ONLY ||
	      (v->arg_tstate < 0 && v->arg_gen < 0 && v->arg_reason < 0),
	      "%s: clones only: no known registers", v->name);
	CHECK(v->disasm_gen < 0 || v->arg_gen == 1, "%s: disasm looks at esi, the generation",
	      v->name);
	CHECK(v->disasm_reason < 0 || (v->disasm_gen >= 0 && v->arg_reason == 2),
	      "%s: disasm's edx is the reason", v->name);
	CHECK(v->disasm_gen >= 0 || !v->disasm_wrapper, "%s: wrapper without search", v->name);
	CHECK(v->entry_may_not_collect ? v->auto_gen != PY_GEN_CHOSEN :
	      v->auto_gen == PY_GEN_CHOSEN, "%s: auto_gen %d", v->name, v->auto_gen);
	CHECK(v->usdt_start_arg && v->usdt_done_arg, "%s: USDT arguments", v->name);
	CHECK(v->anchor && v->anchor[0], "%s: anchor", v->name);

	/* Where the GC state is: measured, or from the file (and then checked). */
	if (v->dbg) {
		const struct py_debug_offsets_pos *p = v->dbg;
		const int pos[] = { p->interpreters_head, p->interp_id, p->interp_gc,
				    p->tstate_interp, p->gc_size, p->gc_collecting };

		CHECK(p->size > 24 && p->size <= 1024, "%s: sizeof _Py_DebugOffsets %d", v->name,
		      p->size);
		for (i = 0; i < (int)(sizeof(pos) / sizeof(pos[0])); i++)
			CHECK(pos[i] >= 24 && inside(pos[i], 8, p->size), "%s: field %d at %d",
			      v->name, i, pos[i]);
		CHECK((p->gc_generation_stats >= 0) == (v->stats_kind == GC_STATS_RING) &&
		      (p->gc_generation_stats_size >= 0) == (v->stats_kind == GC_STATS_RING),
		      "%s: ring pointer published iff ring", v->name);
		CHECK(p->gc_generation_stats < 0 || (inside(p->gc_generation_stats, 8, p->size) &&
						     inside(p->gc_generation_stats_size, 8, p->size)),
		      "%s: ring fields inside _Py_DebugOffsets", v->name);
		CHECK(v->main_interp_off == -1 && v->gc_off == -1 && v->tstate_interp_off == -1 &&
		      v->interp_id_off == -1, "%s: from the file, not the row", v->name);
		CHECK(v->state_size > 0 && inside(v->collecting_off, 4, v->state_size),
		      "%s: GC state size %d, collecting %d", v->name, v->state_size,
		      v->collecting_off);
		CHECK(inside(v->stats_off, v->stats_kind == GC_STATS_RING ? 8 : 3 * r->size,
			     v->state_size), "%s: statistics inside the GC state", v->name);
		CHECK(v->long_lived_off < 0 || inside(v->long_lived_pending_off, 8, v->state_size),
		      "%s: long_lived inside the GC state", v->name);
		CHECK(v->heap_size_off < 0 || inside(v->heap_size_off, 8, v->state_size),
		      "%s: heap_size inside the GC state", v->name);
	} else {
		CHECK(v->gc_off >= 0 && v->stats_off >= 0 && v->state_size == -1 &&
		      v->collecting_off == -1, "%s: measured offsets", v->name);
		CHECK((v->main_interp_off < 0) == (v->tstate_interp_off < 0) &&
		      (v->main_interp_off < 0) == (v->interp_id_off < 0),
		      "%s: per-interpreter offsets all or none", v->name);
	}
	CHECK((v->long_lived_off < 0) == (v->long_lived_pending_off < 0) &&
	      (v->long_lived_off < 0 || v->long_lived_pending_off == v->long_lived_off + 8),
	      "%s: long_lived_pending follows long_lived_total", v->name);

	/* The configuration the advice reads (gc_config.c): three generations'
	 * thresholds inside their structs, inside the GC state where it is known;
	 * generation0 (a pointer) and enabled inside it too. */
	CHECK(v->generation_size > 0 && inside(v->threshold_off, 4, v->generation_size) &&
	      v->generations_off >= 0 && v->generation_size <= 48,
	      "%s: generations' thresholds", v->name);
	CHECK(!!v->generations_sym == (v->enabled_off < 0 && v->generation0_off < 0),
	      "%s: a static generations[] has no state around it", v->name);
	CHECK(v->state_size < 0 ||
	      (inside(v->generations_off, 3 * v->generation_size, v->state_size) &&
	       inside(v->enabled_off, 4, v->state_size) &&
	       (v->generation0_off < 0 || inside(v->generation0_off, 8, v->state_size))),
	      "%s: configuration outside the GC state", v->name);

	/* The statistics record and the ring. */
	CHECK(inside(r->collections, 8, r->size) && inside(r->collected, 8, r->size) &&
	      inside(r->uncollectable, 8, r->size) &&
	      (r->candidates < 0 || inside(r->candidates, 8, r->size)) &&
	      (r->heap_size < 0 || inside(r->heap_size, 8, r->size)),
	      "%s: record fields inside its %d bytes", v->name, r->size);
	if (v->stats_kind == GC_STATS_RING) {
		CHECK(v->ring.bytes > 0 && v->ring.bytes <= GC_RING_BYTES, "%s: ring %d bytes",
		      v->name, v->ring.bytes);
		for (i = 0; i < 3; i++) {
			int end = v->ring.items_off[i] + v->ring.len[i] * r->size;

			CHECK(v->ring.len[i] > 0 && v->ring.len[i] < 128, "%s: ring %d len", v->name, i);
			/* items, then their index; the next ring after the index. */
			CHECK(inside(v->ring.items_off[i], v->ring.len[i] * r->size, v->ring.bytes) &&
			      v->ring.index_off[i] >= end && inside(v->ring.index_off[i], 1,
								    v->ring.bytes),
			      "%s: ring %d items and index", v->name, i);
			CHECK(i == 2 || v->ring.items_off[i + 1] > v->ring.index_off[i],
			      "%s: rings %d and %d apart", v->name, i, i + 1);
		}
		CHECK(v->ring.seq_off > v->ring.index_off[2] && inside(v->ring.seq_off, 4,
								       v->ring.bytes),
		      "%s: update_seq after the rings", v->name);
	} else {
		CHECK(v->ring.bytes == 0 && v->ring.len[0] == 0, "%s: no ring", v->name);
	}

	/* The BPF side's view: layout__fill accepts the row, and every read lies inside. */
	if (!CHECK(!layout__fill(&l, v, v->dbg ? &d : NULL, err, sizeof(err)), "%s: %s", v->name,
		   err))
		return;
	CHECK(l.snap_bytes > 0 && l.snap_bytes % 8 == 0 &&
	      l.snap_bytes <= (l.stats_kind == GC_STATS_RING ? GC_RING_BYTES : GC_SNAP_BYTES),
	      "%s: snap_bytes %d", v->name, l.snap_bytes);
	if (l.stats_kind == GC_STATS_ARRAY) {
		CHECK(inside(2 * l.rec_size + l.rec_uncollectable, 8, l.snap_bytes),
		      "%s: generation_stats[3] inside the read", v->name);
		CHECK(l.snap_long_lived < 0 || inside(l.snap_long_lived, 8, l.snap_bytes),
		      "%s: long_lived_total inside the read", v->name);
		CHECK(l.snap_long_lived_pending < 0 ||
		      inside(l.snap_long_lived_pending, 8, l.snap_bytes),
		      "%s: long_lived_pending inside the read", v->name);
		CHECK(l.snap_heap_size < 0 || inside(l.snap_heap_size, 8, l.snap_bytes),
		      "%s: heap_size inside the read", v->name);
	} else {
		CHECK_EQ(l.snap_bytes, v->ring.bytes);
		CHECK(inside(l.ring_seq_off, 4, l.snap_bytes), "%s: seq inside the read", v->name);
	}
}

static void test_rows(void)
{
	size_t i;
	int minor, micro;

	CHECK(py_versions_nr >= 11, "%zu rows", py_versions_nr);
	for (i = 0; i < py_versions_nr; i++) {
		test_row(&py_versions[i]);
		CHECK(i == 0 || py_versions[i].minor >= py_versions[i - 1].minor,
		      "%s: rows in version order", py_versions[i].name);
	}
	/* From the oldest to the newest minor, each release exactly one row. */
	for (minor = py_versions[0].minor; minor <= py_versions[py_versions_nr - 1].minor; minor++)
		for (micro = 0; micro <= 255; micro++) {
			int n = 0;

			for (i = 0; i < py_versions_nr; i++)
				n += py_versions[i].minor == minor &&
				     micro >= py_versions[i].micro_min &&
				     micro <= py_versions[i].micro_max &&
				     (py_versions[i].builds & PY_RELEASE);
			if (!CHECK(n == 1, "3.%d.%d: %d rows", minor, micro, n))
				return;
		}
}

/*
 * What the code gave before the table, per version (6e0cb69): collector_name(),
 * collector_flags(), find_anchor()'s symbol, plan_disasm's `minor < 9` and
 * disasm's `minor >= 13` (reason MANUAL), the one-liner's `minor >= 13` note,
 * and layout__fill's gc_layout for a build whose file agrees.
 */
struct old {
	int minor, micro;
	bool debug;
	const char *collector;
	unsigned int flags;
	const char *anchor;
	bool disasm, reason, note;
	/* gc_layout: main, tstate, iid, gc, stats, ll, heap, snap_ll, snap_heap, kind */
	int lay[10];
};

#define F9 (GC_PROBE_TSTATE_RDI | GC_PROBE_GEN_ESI)
#define F13 (F9 | GC_PROBE_REASON_RDX)

static const struct old old[] = {
	{ 6, 15, false, "collect", 0, "generation_stats", false, false, false,
	  { -1, -1, -1, 0, 0, -1, -1, -1, -1, 0 } },
	{ 7, 16, false, "collect", 0, "_PyRuntime", false, false, false,
	  { -1, -1, -1, 320, 240, 336, -1, 96, -1, 0 } },
	{ 8, 18, false, "collect", 0, "_PyRuntime", false, false, false,
	  { -1, -1, -1, 344, 128, 224, -1, 96, -1, 0 } },
	{ 9, 18, false, "collect", F9, "_PyRuntime", true, false, false,
	  { 40, 16, 24, 616, 128, 224, -1, 96, -1, 0 } },
	{ 10, 13, false, "gc_collect_main", F9, "_PyRuntime", true, false, false,
	  { 40, 16, 24, 616, 128, 224, -1, 96, -1, 0 } },
	{ 11, 7, false, "gc_collect_main", F9, "_PyRuntime", true, false, false,
	  { 48, 16, 48, 648, 128, 224, -1, 96, -1, 0 } },
	{ 11, 2, true, "gc_collect_main", F9, "_PyRuntime", true, false, false,
	  { 48, 16, 48, 648, 128, 224, -1, 96, -1, 0 } },
	{ 12, 1, false, "gc_collect_main", F9, "_PyRuntime", true, false, false,
	  { 48, 16, 8, 112, 128, 224, -1, 96, -1, 0 } },
	/* 3.13+: with the dbg_for() file (interpreters_head 808, id 24, gc 7408). */
	{ 13, 0, false, "gc_collect_main", F13, "_PyRuntime", true, true, true,
	  { 816, 16, 24, 7408, 128, 224, -1, 96, -1, 0 } },
	{ 14, 2, false, "_PyGC_Collect", F13, "_PyRuntime", true, true, true,
	  { 816, 16, 24, 7408, 120, -1, 216, -1, 96, 0 } },
	{ 14, 10, false, "gc_collect_main", F13, "_PyRuntime", true, true, true,
	  { 816, 16, 24, 7408, 120, 240, 216, 120, 96, 0 } },
	{ 15, 2, false, "gc_collect_main", F13, "_PyRuntime", true, true, true,
	  { 816, 16, 24, 7408, 104, 152, 144, -1, -1, 1 } },
	{ 15, 2, true, "gc_collect_main", F13, "_PyRuntime", true, true, true,
	  { 816, 16, 24, 7408, 104, 152, 144, -1, -1, 1 } },
};

static void test_old(void)
{
	size_t i;

	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		const struct old *o = &old[i];
		const struct py_version *v = py_versions__find(o->minor, o->micro, o->debug);
		struct gc_layout l = { .anchor_vaddr = 0x1000 };
		struct debug_offsets d;
		char err[256];
		int lay[10];

		if (!CHECK(v, "3.%d.%d%s: a row", o->minor, o->micro, o->debug ? "d" : ""))
			continue;
		CHECK_STR(v->collector, o->collector);
		CHECK(py_version__probe_flags(v) == o->flags, "%s: flags %#x, were %#x", v->name,
		      py_version__probe_flags(v), o->flags);
		CHECK_STR(v->anchor, o->anchor);
		CHECK((v->disasm_gen >= 0) == o->disasm, "%s: disassembly", v->name);
		CHECK((v->disasm_reason >= 0) == o->reason, "%s: disassembly's reason", v->name);
		CHECK(v->entry_may_not_collect == o->note, "%s: one-liner note", v->name);
		CHECK(!o->disasm || v->disasm_gen == 2, "%s: generation 2", v->name);
		d = dbg_for(v);
		if (!CHECK(!layout__fill(&l, v, v->dbg ? &d : NULL, err, sizeof(err)), "%s: %s",
			   v->name, err))
			continue;
		lay[0] = l.main_interp_off;
		lay[1] = l.tstate_interp_off;
		lay[2] = l.interp_id_off;
		lay[3] = l.gc_off;
		lay[4] = l.stats_off;
		lay[5] = l.long_lived_off;
		lay[6] = l.heap_size_off;
		lay[7] = l.snap_long_lived;
		lay[8] = l.snap_heap_size;
		lay[9] = l.stats_kind;
		CHECK(!memcmp(lay, o->lay, sizeof(lay)), "%s: layout %d %d %d %d %d %d %d %d %d %d",
		      v->name, lay[0], lay[1], lay[2], lay[3], lay[4], lay[5], lay[6], lay[7],
		      lay[8], lay[9]);
		/* The BPF side's literals before: 24-byte records, 3.15's 64-byte ring ones. */
		if (l.stats_kind == GC_STATS_ARRAY)
			CHECK(l.rec_size == 24 && l.rec_collections == 0 && l.rec_collected == 8 &&
			      l.rec_uncollectable == 16 && l.rec_candidates < 0 && l.rec_heap_size < 0 &&
			      l.snap_long_lived_pending == (l.snap_long_lived < 0 ? -1 :
							    l.snap_long_lived + 8),
			      "%s: array record", v->name);
		else
			CHECK(l.rec_size == 64 && l.rec_collections == 16 && l.rec_collected == 24 &&
			      l.rec_uncollectable == 32 && l.rec_candidates == 40 &&
			      l.rec_heap_size == 56 && l.ring_seq_off == 1112 && l.snap_bytes == 1120,
			      "%s: ring record", v->name);
	}
}

static void test_lookup(void)
{
	const struct py_version *v;
	char err[256];

	CHECK_STR(py_versions__find(14, 4, false)->name, "3.14.0-3.14.4");
	CHECK_STR(py_versions__find(14, 5, false)->name, "3.14.5+");
	CHECK_STR(py_versions__find(11, 2, true)->name, "3.11");
	CHECK_STR(py_versions__find(15, 2, true)->name, "3.15");
	CHECK(!py_versions__find(10, 13, true), "no 3.10 debug row");

	CHECK_EQ(py_versions__lookup(&v, 3, 12, 1, false, err, sizeof(err)), 0);
	CHECK(v && v->minor == 12, "3.12");
	CHECK_EQ(py_versions__lookup(&v, 3, 5, 10, false, err, sizeof(err)), -ENOTSUP);
	CHECK(!v && strstr(err, "3.5.10") && strstr(err, "3.6"), "err: %s", err);
	CHECK_EQ(py_versions__lookup(&v, 2, 7, 18, false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "2.7.18"), "err: %s", err);
	CHECK_EQ(py_versions__lookup(&v, 3, 16, 0, false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "3.16") && strstr(err, "newer") && strstr(err, "3.15"), "err: %s", err);
	CHECK_EQ(py_versions__lookup(&v, 3, 10, 1, true, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "3.10") && strstr(err, "debug"), "err: %s", err);
	/* A short err buffer is still terminated. */
	memset(err, 'x', sizeof(err));
	CHECK_EQ(py_versions__lookup(&v, 3, 5, 0, false, err, 4), -ENOTSUP);
	CHECK(strlen(err) == 3 && err[4] == 'x', "err truncated to 3: \"%s\"", err);
}

/* The one-liner's version facts: the generation's argument and the automatic-entry note. */
static char *oneliner(int minor, int micro, enum gc_probe_kind probe, const char *point)
{
	static struct py_build b;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	memset(&b, 0, sizeof(b));
	b.ver = py_versions__find(minor, micro, false);
	snprintf(b.version, sizeof(b.version), "3.%d.%d", minor, micro);
	b.probe = probe;
	b.nr_points = 1;
	snprintf(b.points[0].name, sizeof(b.points[0].name), "%s", point);
	b.points[0].flags = strchr(point, '.') ? 0 : py_version__probe_flags(b.ver);
	oneliner__print(f, &b, "/x/python", 42, NULL);
	fclose(f);
	return buf;
}

static void test_oneliner(void)
{
	char *s;

	s = oneliner(12, 1, GC_PROBE_UPROBE, "gc_collect_main");
	CHECK(strstr(s, "generation from arg1") && !strstr(s, "automatic"), "3.12: %s", s);
	free(s);
	s = oneliner(7, 16, GC_PROBE_UPROBE, "collect");
	CHECK(strstr(s, "generation from arg0") && strstr(s, "@gen[tid] = arg0"), "3.7: %s", s);
	free(s);
	s = oneliner(8, 18, GC_PROBE_UPROBE, "collect.constprop.1");
	CHECK(strstr(s, "counted per process only") && !strstr(s, "@gen"), "3.8: %s", s);
	free(s);
	s = oneliner(13, 0, GC_PROBE_UPROBE, "gc_collect_main");
	CHECK(strstr(s, "generation from arg1") && strstr(s, "pass generation -1"), "3.13: %s", s);
	free(s);
	/* 3.14.0-3.14.4: automatic collections are increments of generation 1. */
	s = oneliner(14, 2, GC_PROBE_UPROBE, "_PyGC_Collect");
	CHECK(strstr(s, "on _PyGC_Collect") && strstr(s, "pass generation 1 "), "3.14.2: %s", s);
	free(s);
	s = oneliner(15, 2, GC_PROBE_USDT, "python:gc__start");
	CHECK(strstr(s, "gc__start(generation) / gc__done(collected + uncollectable)") &&
	      strstr(s, "usdt:/x/python:python:gc__start"), "3.15 USDT: %s", s);
	free(s);
}

int main(void)
{
	test_rows();
	test_old();
	test_lookup();
	test_oneliner();
	return check_done();
}
