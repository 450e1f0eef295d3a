// SPDX-License-Identifier: GPL-2.0
/*
 * layout__fill of each version's row (py_versions.c) against
 * /work/shared/reference/cpython-gc-internals.md §3a/3b/§4, and
 * debug_offsets__read on a real 3.13 file when there is one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "elf/elf_file.h"
#include "python/layout.h"

#define ANCHOR 0x5a5a5000ull

struct want {
	int minor;
	bool debug;
	int main_interp, tstate_interp, interp_id, gc, stats, long_lived;
};

/* §3a gc offsets, §3b generation_stats / long_lived_total, 3.6-3.12. */
static const struct want table[] = {
	{ 6, false, -1, -1, -1, 0, 0, -1 },
	{ 7, false, -1, -1, -1, 0x140, 240, 336 },
	{ 8, false, -1, -1, -1, 0x158, 128, 224 },
	{ 9, false, 0x28, 16, 24, 0x268, 128, 224 },
	{ 10, false, 0x28, 16, 24, 0x268, 128, 224 },
	{ 11, false, 0x30, 16, 48, 0x288, 128, 224 },
	{ 11, true, 0x30, 16, 48, 0x288, 128, 224 },
	{ 12, false, 0x30, 16, 8, 0x70, 128, 224 },
};

/* The row of 3.minor (the micro of d's version, else 0), filled; -ENOENT: no row. */
static int fill(struct gc_layout *l, int minor, bool debug, const struct debug_offsets *d,
		char *err, size_t len)
{
	const struct py_version *v = py_versions__find(minor, d ? (d->version >> 8) & 0xff : 0,
						       debug);

	memset(l, 0x5c, sizeof(*l));	/* garbage, except the anchor the caller sets */
	l->anchor_vaddr = ANCHOR;
	err[0] = 0;
	if (!v) {
		snprintf(err, len, "no row for 3.%d%s", minor, debug ? "d" : "");
		return -ENOENT;
	}
	return layout__fill(l, v, d, err, len);
}

static void test_table(void)
{
	struct gc_layout l;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct want *w = &table[i];
		int ret = fill(&l, w->minor, w->debug, NULL, err, sizeof(err));

		if (!CHECK(ret == 0, "3.%d%s: %d %s", w->minor, w->debug ? "d" : "", ret, err))
			continue;
		CHECK(l.anchor_vaddr == ANCHOR, "3.%d: anchor kept", w->minor);
		CHECK(l.gc_off == w->gc, "3.%d: gc_off %#x, expected %#x", w->minor, l.gc_off, w->gc);
		CHECK(l.stats_off == w->stats, "3.%d: stats_off %d, expected %d", w->minor,
		      l.stats_off, w->stats);
		CHECK(l.stats_kind == GC_STATS_ARRAY, "3.%d: kind %d", w->minor, l.stats_kind);
		CHECK(l.main_interp_off == w->main_interp, "3.%d: main_interp_off %#x, expected %#x",
		      w->minor, l.main_interp_off, w->main_interp);
		CHECK(l.tstate_interp_off == w->tstate_interp, "3.%d: tstate_interp_off %d",
		      w->minor, l.tstate_interp_off);
		CHECK(l.interp_id_off == w->interp_id, "3.%d: interp_id_off %d", w->minor,
		      l.interp_id_off);
		CHECK(l.long_lived_off == w->long_lived, "3.%d: long_lived_off %d", w->minor,
		      l.long_lived_off);
		CHECK(l.heap_size_off == -1 && l.snap_heap_size == -1, "3.%d: no heap_size",
		      w->minor);
		CHECK(l.snap_long_lived == (w->long_lived < 0 ? -1 : w->long_lived - w->stats),
		      "3.%d: snap_long_lived %d", w->minor, l.snap_long_lived);
		/* long_lived_pending follows long_lived_total. */
		CHECK(l.snap_long_lived_pending == (w->long_lived < 0 ? -1 : l.snap_long_lived + 8),
		      "3.%d: snap_long_lived_pending %d", w->minor, l.snap_long_lived_pending);
		/* Whatever is read from the snapshot lies inside it. */
		CHECK(l.snap_long_lived_pending + 8 <= l.snap_bytes && 72 <= l.snap_bytes &&
		      l.snap_bytes <= GC_SNAP_BYTES && l.snap_bytes % 8 == 0,
		      "3.%d: snap_bytes %d", w->minor, l.snap_bytes);
		/* struct gc_generation_stats[3]: collections, collected, uncollectable. */
		CHECK(l.rec_size == 24 && l.rec_collections == 0 && l.rec_collected == 8 &&
		      l.rec_uncollectable == 16 && l.rec_candidates == -1 && l.rec_heap_size == -1,
		      "3.%d: record %d %d %d %d", w->minor, l.rec_size, l.rec_collections,
		      l.rec_collected, l.rec_uncollectable);
		/* Fields gcbpf does not fill are -1, not the garbage that was there. */
		CHECK(l.ring_seq_off == -1, "3.%d: ring_seq_off %d", w->minor, l.ring_seq_off);
		CHECK(l.rec_ts_start == -1 && l.rec_ts_stop == -1, "3.%d: no record timestamps",
		      w->minor);
	}
	/* 3.8 – 3.12: generation_stats at 128 (§3b), the 3.7 exception at 240. */
	CHECK(!fill(&l, 8, false, NULL, err, sizeof(err)) && l.gc_off == 344, "3.8 gc 344");
	CHECK(!fill(&l, 11, false, NULL, err, sizeof(err)) && l.gc_off == 648, "3.11 gc 648");
}

static void test_unknown(void)
{
	const struct py_version *v13 = py_versions__find(13, 0, false);
	struct gc_layout l;
	char err[256];

	/* No row but 3.11's for debug builds before 3.13 (the lookup's messages: test_py_versions). */
	CHECK_EQ(fill(&l, 10, true, NULL, err, sizeof(err)), -ENOENT);
	CHECK_EQ(fill(&l, 5, false, NULL, err, sizeof(err)), -ENOENT);
	CHECK_EQ(fill(&l, 16, false, NULL, err, sizeof(err)), -ENOENT);
	/* 3.13+ without _Py_DebugOffsets: nothing to go by. */
	CHECK_EQ(fill(&l, 13, false, NULL, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "3.13") && strstr(err, "_Py_DebugOffsets"), "err: %s", err);
	/* A short err buffer is still terminated. */
	memset(err, 'x', sizeof(err));
	if (CHECK(v13, "a 3.13 row"))
		CHECK_EQ(layout__fill(&l, v13, NULL, err, 4), -ENOTSUP);
	CHECK(strlen(err) == 3 && err[4] == 'x', "err truncated to 3: \"%s\"", err);
}

static struct debug_offsets dbg_313(void)
{
	struct debug_offsets d = {
		.version = 0x030d00f0,
		.interpreters_head = 632,
		.interp_id = 24,
		.interp_gc = 7400,
		.tstate_interp = 16,
		.gc_size = 240,
		.gc_collecting = 200,
	};
	return d;
}

static void test_debug_offsets(void)
{
	struct debug_offsets d = dbg_313();
	struct gc_layout l;
	char err[256];

	if (CHECK_EQ(fill(&l, 13, false, &d, err, sizeof(err)), 0)) {
		CHECK_EQ(l.anchor_vaddr, ANCHOR);
		CHECK_EQ(l.gc_off, 7400);
		CHECK_EQ(l.stats_off, 128);
		CHECK_EQ(l.stats_kind, GC_STATS_ARRAY);
		CHECK_EQ(l.main_interp_off, 640);	/* interpreters.main follows .head */
		CHECK_EQ(l.interp_id_off, 24);
		CHECK_EQ(l.tstate_interp_off, 16);
		CHECK_EQ(l.long_lived_off, 224);
		CHECK_EQ(l.snap_long_lived, 96);
		CHECK_EQ(l.heap_size_off, -1);
		CHECK_EQ(l.snap_heap_size, -1);
	}
	/* The offsets come from the file, not the table. */
	d.interp_gc = 7424;
	CHECK(!fill(&l, 13, false, &d, err, sizeof(err)) && l.gc_off == 7424, "gc_off %d",
	      l.gc_off);

	d = dbg_313();
	d.gc_size = 248;
	CHECK_EQ(fill(&l, 13, false, &d, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "248") && strstr(err, "240"), "err: %s", err);
	d = dbg_313();
	d.gc_collecting = 208;
	CHECK_EQ(fill(&l, 13, false, &d, err, sizeof(err)), -ENOTSUP);
	d = dbg_313();
	d.free_threaded = 1;
	CHECK_EQ(fill(&l, 13, false, &d, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "free-threaded"), "err: %s", err);

	/* 3.14.5+ (Debian 3.14.10): generational, heap_size and long_lived. */
	d = dbg_313();
	d.version = 0x030e0af0;
	d.interpreters_head = 808;
	d.interp_gc = 7408;
	d.gc_size = 264;
	d.gc_collecting = 192;
	if (CHECK_EQ(fill(&l, 14, false, &d, err, sizeof(err)), 0)) {
		CHECK_EQ(l.gc_off, 7408);
		CHECK_EQ(l.stats_off, 120);
		CHECK_EQ(l.main_interp_off, 816);
		CHECK_EQ(l.long_lived_off, 240);
		CHECK_EQ(l.heap_size_off, 216);
		CHECK_EQ(l.snap_long_lived, 120);
		CHECK_EQ(l.snap_long_lived_pending, 128);
		CHECK_EQ(l.snap_heap_size, 96);
		CHECK_EQ(l.snap_bytes, GC_SNAP_BYTES);	/* the largest array read */
		CHECK_EQ(l.stats_kind, GC_STATS_ARRAY);
	}
	/* The row is the version's: a 3.14.10 whose GC state is 240 bytes is no 3.14.10. */
	d.gc_size = 240;
	CHECK_EQ(fill(&l, 14, false, &d, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "3.14.10") && strstr(err, "240") && strstr(err, "264"), "err: %s", err);
	/* 3.14.0-3.14.4 (incremental): sizeof 240, no long_lived counters. */
	d.version = 0x030e02f0;
	if (CHECK_EQ(fill(&l, 14, false, &d, err, sizeof(err)), 0)) {
		CHECK_EQ(l.stats_off, 120);
		CHECK_EQ(l.long_lived_off, -1);
		CHECK_EQ(l.snap_long_lived, -1);
		CHECK_EQ(l.snap_long_lived_pending, -1);
		CHECK_EQ(l.heap_size_off, 216);
		CHECK_EQ(l.snap_heap_size, 96);
		CHECK_EQ(l.snap_bytes, 104);
		CHECK_EQ(l.stats_kind, GC_STATS_ARRAY);
	}
	d.gc_size = 264;
	CHECK_EQ(fill(&l, 14, false, &d, err, sizeof(err)), -ENOTSUP);
	d.gc_size = 240;
	d.free_threaded = 1;
	CHECK_EQ(fill(&l, 14, false, &d, err, sizeof(err)), -ENOTSUP);

	/* 3.15 (Debian 3.15.2): a pointer to the stats ring. */
	d = dbg_313();
	d.version = 0x030f02f0;
	d.interpreters_head = 936;
	d.interp_gc = 7400;
	d.gc_size = 176;
	d.gc_collecting = 112;
	d.gc_generation_stats = 104;
	d.gc_generation_stats_size = 1120;
	if (CHECK_EQ(fill(&l, 15, false, &d, err, sizeof(err)), 0)) {
		CHECK_EQ(l.stats_kind, GC_STATS_RING);
		CHECK_EQ(l.stats_off, 104);
		CHECK_EQ(l.gc_off, 7400);
		CHECK_EQ(l.main_interp_off, 944);
		CHECK_EQ(l.long_lived_off, 152);
		CHECK_EQ(l.heap_size_off, 144);
		CHECK_EQ(l.ring_seq_off, 1112);	/* §3d: update_seq */
		CHECK_EQ(l.snap_bytes, 1120);	/* the whole struct gc_stats */
		CHECK(l.snap_long_lived == -1 && l.snap_heap_size == -1, "ring: no GC-state counters");
		/* §3d: young ring of 11 at 0 (index 704), two old rings of 3. */
		CHECK(l.ring_items_off[0] == 0 && l.ring_items_off[1] == 712 &&
		      l.ring_items_off[2] == 912, "ring items");
		CHECK(l.ring_index_off[0] == 704 && l.ring_index_off[1] == 904 &&
		      l.ring_index_off[2] == 1104, "ring index");
		CHECK(l.ring_len[0] == 11 && l.ring_len[1] == 3 && l.ring_len[2] == 3, "ring len");
		/* §3d: struct gc_generation_stats, 64 bytes. */
		CHECK_EQ(l.rec_size, 64);
		CHECK_EQ(l.rec_collections, 16);
		CHECK_EQ(l.rec_collected, 24);
		CHECK_EQ(l.rec_uncollectable, 32);
		CHECK_EQ(l.rec_candidates, 40);
		CHECK_EQ(l.rec_heap_size, 56);
		/* §3d: ts_start, ts_stop first: the one-probe path's timestamps. */
		CHECK_EQ(l.rec_ts_start, 0);
		CHECK_EQ(l.rec_ts_stop, 8);
		CHECK_EQ(l.collecting_off, 112);
	}
	/* A struct gc_stats of another size is another layout (FT: 224). */
	d.gc_generation_stats_size = 224;
	CHECK_EQ(fill(&l, 15, false, &d, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "224"), "err: %s", err);
	d.gc_generation_stats_size = 1120;
	d.gc_generation_stats = 96;
	CHECK_EQ(fill(&l, 15, false, &d, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "96"), "err: %s", err);
	d.gc_generation_stats = 104;
	d.free_threaded = 1;
	CHECK_EQ(fill(&l, 15, false, &d, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "free-threaded"), "err: %s", err);
}

/* §4: values read from pyenv 3.13.0's file. */
static void test_real_313(void)
{
	const char *p = "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0";
	struct debug_offsets d;
	struct elf_file ef;
	struct gc_layout l;
	GElf_Sym sym;
	__u64 rt = 0;
	char err[256];

	if (access(p, R_OK)) {
		SKIP("%s not present", p);
		return;
	}
	if (!CHECK_EQ(elf_file__open(&ef, p), 0))
		return;
	if (CHECK_EQ(debug_offsets__read(&ef, &d, &rt), 0)) {
		CHECK_EQ(d.version, 0x030d00f0);
		CHECK_EQ(d.free_threaded, 0);
		CHECK_EQ(d.interp_gc, 7400);
		CHECK_EQ(d.interpreters_head, 632);
		CHECK_EQ(d.gc_size, 240);
		CHECK_EQ(d.gc_collecting, 200);
		CHECK_EQ(d.gc_generation_stats, 0);
		/* The section's vaddr is _PyRuntime's. */
		if (CHECK_EQ(elf_file__find_symbol(&ef, "_PyRuntime", &sym), 0))
			CHECK_EQ(rt, sym.st_value);
		CHECK_EQ(fill(&l, 13, false, &d, err, sizeof(err)), 0);
		CHECK_EQ(l.gc_off, 7400);
	}
	elf_file__close(&ef);

	/* Before 3.13 there is no cookie: -ENOENT (3.12 has the section, 3.9 none). */
	p = "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0";
	if (!access(p, R_OK) && CHECK_EQ(elf_file__open(&ef, p), 0)) {
		CHECK_EQ(debug_offsets__read(&ef, &d, &rt), -ENOENT);
		elf_file__close(&ef);
	}
	p = "/root/.pyenv/versions/3.9.18/lib/libpython3.9.so.1.0";
	if (!access(p, R_OK) && CHECK_EQ(elf_file__open(&ef, p), 0)) {
		CHECK_EQ(debug_offsets__read(&ef, &d, &rt), -ENOENT);
		elf_file__close(&ef);
	}
}

int main(void)
{
	test_table();
	test_unknown();
	test_debug_offsets();
	test_real_313();
	return check_done();
}
