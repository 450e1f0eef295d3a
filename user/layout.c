// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "layout.h"

/*
 * 3.6-3.12: offsets measured from DWARF of pyenv builds (3.6.15 ... 3.12.1,
 * GCC 12, x86_64) and of Debian's python3.11d, and confirmed for Debian's
 * stripped 3.11.2 from the disassembly of its exported accessors. Patch
 * releases of one minor share them. -1: not in this version.
 */
struct table_row {
	int minor;
	bool debug;
	int main_interp_off;	/* _PyRuntimeState.interpreters.main */
	int tstate_interp_off;	/* PyThreadState.interp */
	int interp_id_off;	/* PyInterpreterState.id */
	int gc_off;		/* PyInterpreterState.gc, or _PyRuntimeState.gc (3.7/3.8) */
	int stats_off;		/* generation_stats inside the GC state */
	int long_lived_off;	/* long_lived_total inside the GC state */
};

static const struct table_row table[] = {
	/* 3.6: static globals; the anchor is the generation_stats symbol itself. */
	{ 6, false, -1, -1, -1, 0, 0, -1 },
	/* 3.7/3.8: one GC for all interpreters, inside _PyRuntime. */
	{ 7, false, -1, -1, -1, 0x140, 240, 336 },
	{ 8, false, -1, -1, -1, 0x158, 128, 224 },
	/* 3.9+: per interpreter. */
	{ 9, false, 0x28, 16, 24, 0x268, 128, 224 },
	{ 10, false, 0x28, 16, 24, 0x268, 128, 224 },
	{ 11, false, 0x30, 16, 48, 0x288, 128, 224 },
	{ 11, true, 0x30, 16, 48, 0x288, 128, 224 },	/* python3.11d: same as release */
	{ 12, false, 0x30, 16, 8, 0x70, 128, 224 },
};

/*
 * 3.13+: where gcbpf's fields sit inside _Py_DebugOffsets (per minor), and
 * the GC-state offsets _Py_DebugOffsets does not publish (from the headers:
 * pyenv 3.13.0, Debian 3.14.10 and 3.15.2).
 */
struct dbg_row {
	int minor;
	/* inside _Py_DebugOffsets */
	int interpreters_head, interp_id, interp_gc, tstate_interp, gc_size, gc_collecting;
	int gc_generation_stats, gc_generation_stats_size;	/* -1 before 3.15 */
	int sizeof_debug_offsets;
	/* inside the GC state, checked against gc.size/gc.collecting */
	int state_size, collecting_off, stats_off, long_lived_off, heap_size_off;
	int stats_kind;
};

static const struct dbg_row dbg_table[] = {
	{ 13, 40, 56, 80, 176, 568, 576, -1, -1, 584, 240, 200, 128, 224, -1, GC_STATS_ARRAY },
	{ 14, 40, 56, 88, 200, 648, 656, -1, -1, 760, 264, 192, 120, 240, 216, GC_STATS_ARRAY },
	{ 15, 40, 56, 88, 200, 752, 760, 784, 776, 888, 176, 112, 104, 152, 144, GC_STATS_RING },
};

static const struct dbg_row *dbg_row_for(int minor)
{
	size_t i;

	for (i = 0; i < sizeof(dbg_table) / sizeof(dbg_table[0]); i++)
		if (dbg_table[i].minor == minor)
			return &dbg_table[i];
	return NULL;
}

static __u64 u64_at(const unsigned char *buf, int off)
{
	__u64 v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

int debug_offsets__read(struct elf_file *ef, struct debug_offsets *d, __u64 *runtime_vaddr)
{
	unsigned char buf[1024];
	const struct dbg_row *row;
	GElf_Shdr shdr;
	int minor;

	if (!elf_file__section(ef, ".PyRuntime", &shdr) || shdr.sh_type == SHT_NOBITS)
		return -ENOENT;
	if (elf_file__read_vaddr(ef, shdr.sh_addr, buf, 24) || memcmp(buf, "xdebugpy", 8))
		return -ENOENT;
	memset(d, 0, sizeof(*d));
	d->version = u64_at(buf, 8);
	d->free_threaded = u64_at(buf, 16);
	*runtime_vaddr = shdr.sh_addr;
	minor = (d->version >> 16) & 0xff;
	row = dbg_row_for(minor);
	if ((d->version >> 24) != 3 || !row)
		return -EPROTO;
	if (elf_file__read_vaddr(ef, shdr.sh_addr, buf, row->sizeof_debug_offsets))
		return -EIO;
	d->interpreters_head = u64_at(buf, row->interpreters_head);
	d->interp_id = u64_at(buf, row->interp_id);
	d->interp_gc = u64_at(buf, row->interp_gc);
	d->tstate_interp = u64_at(buf, row->tstate_interp);
	d->gc_size = u64_at(buf, row->gc_size);
	d->gc_collecting = u64_at(buf, row->gc_collecting);
	if (row->gc_generation_stats >= 0) {
		d->gc_generation_stats = u64_at(buf, row->gc_generation_stats);
		d->gc_generation_stats_size = u64_at(buf, row->gc_generation_stats_size);
	}
	return 0;
}

static void layout_init(struct gc_layout *l)
{
	__u64 anchor = l->anchor_vaddr;

	memset(l, 0xff, sizeof(*l));	/* every offset -1: absent */
	l->anchor_vaddr = anchor;
	l->stats_kind = GC_STATS_ARRAY;
}

/* Where the counters fall inside the one read the BPF side makes per probe. */
static int set_snapshot(struct gc_layout *l, char *err, size_t err_len)
{
	int ll = l->long_lived_off - l->stats_off, heap = l->heap_size_off - l->stats_off;

	l->snap_long_lived = l->long_lived_off >= 0 ? ll : -1;
	l->snap_heap_size = l->heap_size_off >= 0 ? heap : -1;
	if (l->stats_kind == GC_STATS_ARRAY &&
	    (l->snap_long_lived + 16 > GC_SNAP_BYTES || l->snap_heap_size + 8 > GC_SNAP_BYTES ||
	     (ll < 0 && l->long_lived_off >= 0) || (heap < 0 && l->heap_size_off >= 0))) {
		snprintf(err, err_len, "GC counters outside the %d-byte snapshot", GC_SNAP_BYTES);
		return -ENOTSUP;
	}
	return 0;
}

static int fill_from_debug_offsets(struct gc_layout *l, int minor, int micro,
				   const struct debug_offsets *d, char *err, size_t err_len)
{
	const struct dbg_row *row = dbg_row_for(minor);
	bool incremental;

	if (!row) {
		snprintf(err, err_len, "Python 3.%d is newer than this gcbpf knows", minor);
		return -ENOTSUP;
	}
	if (d->free_threaded) {
		snprintf(err, err_len, "free-threaded build (3.%dt) is not supported yet", minor);
		return -ENOTSUP;
	}
	/* 3.14.0-3.14.4 had the incremental collector: same offsets for what
	 * gcbpf reads, but no long_lived counters (gc.size says which). */
	incremental = minor == 14 && d->gc_size == 240 && d->gc_collecting == 192;
	if (!incremental &&
	    (d->gc_size != (__u64)row->state_size || d->gc_collecting != (__u64)row->collecting_off)) {
		snprintf(err, err_len,
			 "GC state of this 3.%d.%d build differs from the known layout "
			 "(gc.size %llu, collecting at %llu; expected %d, %d)",
			 minor, micro, (unsigned long long)d->gc_size,
			 (unsigned long long)d->gc_collecting, row->state_size, row->collecting_off);
		return -ENOTSUP;
	}
	if (row->stats_kind == GC_STATS_RING && d->gc_generation_stats != (__u64)row->stats_off) {
		snprintf(err, err_len, "3.%d statistics pointer at %llu, expected %d", minor,
			 (unsigned long long)d->gc_generation_stats, row->stats_off);
		return -ENOTSUP;
	}
	/* interpreters.main follows interpreters.head. */
	l->main_interp_off = d->interpreters_head + 8;
	l->tstate_interp_off = d->tstate_interp;
	l->interp_id_off = d->interp_id;
	l->gc_off = d->interp_gc;
	l->stats_off = row->stats_off;
	l->long_lived_off = incremental ? -1 : row->long_lived_off;
	l->heap_size_off = row->heap_size_off;
	l->stats_kind = row->stats_kind;
	if (row->stats_kind == GC_STATS_RING) {
		/* struct gc_stats (pycore_interp_structs.h, 3.15): young ring of
		 * 11, two old rings of 3, then update_seq. _Py_DebugOffsets gives
		 * only its size, which pins this layout. */
		static const int items[3] = { 0, 712, 912 }, index[3] = { 704, 904, 1104 },
				 len[3] = { 11, 3, 3 };

		if (d->gc_generation_stats_size != GC_RING_BYTES) {
			snprintf(err, err_len, "3.%d statistics ring is %llu bytes, expected %d",
				 minor, (unsigned long long)d->gc_generation_stats_size,
				 GC_RING_BYTES);
			return -ENOTSUP;
		}
		memcpy(l->ring_items_off, items, sizeof(items));
		memcpy(l->ring_index_off, index, sizeof(index));
		memcpy(l->ring_len, len, sizeof(len));
		l->ring_seq_off = 1112;
	}
	return 0;
}

static int fill(struct gc_layout *l, int minor, int micro, bool debug,
		const struct debug_offsets *d, char *err, size_t err_len)
{
	size_t i;

	if (minor >= 13) {
		if (!d) {
			snprintf(err, err_len, "3.%d build without _Py_DebugOffsets", minor);
			return -ENOTSUP;
		}
		return fill_from_debug_offsets(l, minor, micro, d, err, err_len);
	}
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct table_row *r = &table[i];

		if (r->minor != minor || r->debug != debug)
			continue;
		l->main_interp_off = r->main_interp_off;
		l->tstate_interp_off = r->tstate_interp_off;
		l->interp_id_off = r->interp_id_off;
		l->gc_off = r->gc_off;
		l->stats_off = r->stats_off;
		l->long_lived_off = r->long_lived_off;
		return 0;
	}
	snprintf(err, err_len, "no GC layout for Python 3.%d%s (supported: 3.6-3.15)", minor,
		 debug ? " debug build" : "");
	return -ENOTSUP;
}

int layout__fill(struct gc_layout *l, int minor, int micro, bool debug,
		 const struct debug_offsets *d, char *err, size_t err_len)
{
	int ret;

	layout_init(l);
	ret = fill(l, minor, micro, debug, d, err, err_len);
	return ret ? ret : set_snapshot(l, err, err_len);
}
