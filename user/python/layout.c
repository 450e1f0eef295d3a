// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "python/layout.h"

static __u64 u64_at(const unsigned char *buf, int off)
{
	__u64 v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

int debug_offsets__read(struct elf_file *ef, struct debug_offsets *d, __u64 *runtime_vaddr)
{
	unsigned char buf[1024];
	const struct py_debug_offsets_pos *pos;
	const struct py_version *v;
	GElf_Shdr shdr;

	if (!elf_file__section(ef, ".PyRuntime", &shdr) || shdr.sh_type == SHT_NOBITS)
		return -ENOENT;
	if (elf_file__read_vaddr(ef, shdr.sh_addr, buf, 24) || memcmp(buf, "xdebugpy", 8))
		return -ENOENT;
	memset(d, 0, sizeof(*d));
	d->version = u64_at(buf, 8);
	d->free_threaded = u64_at(buf, 16);
	*runtime_vaddr = shdr.sh_addr;
	v = (d->version >> 24) == 3 ? py_versions__find((d->version >> 16) & 0xff,
							 (d->version >> 8) & 0xff, false) : NULL;
	pos = v ? v->dbg : NULL;
	if (!pos || pos->size > (int)sizeof(buf))
		return -EPROTO;
	if (elf_file__read_vaddr(ef, shdr.sh_addr, buf, pos->size))
		return -EIO;
	d->interpreters_head = u64_at(buf, pos->interpreters_head);
	d->interp_id = u64_at(buf, pos->interp_id);
	d->interp_gc = u64_at(buf, pos->interp_gc);
	d->tstate_interp = u64_at(buf, pos->tstate_interp);
	d->gc_size = u64_at(buf, pos->gc_size);
	d->gc_collecting = u64_at(buf, pos->gc_collecting);
	if (pos->gc_generation_stats >= 0) {
		d->gc_generation_stats = u64_at(buf, pos->gc_generation_stats);
		d->gc_generation_stats_size = u64_at(buf, pos->gc_generation_stats_size);
	}
	return 0;
}

/* 3.13+: the pointer chain from the file, checked against what v knows of the GC state. */
static int from_debug_offsets(struct gc_layout *l, const struct py_version *v,
			      const struct debug_offsets *d, char *err, size_t err_len)
{
	if (!d) {
		snprintf(err, err_len, "Python %s build without _Py_DebugOffsets", v->name);
		return -ENOTSUP;
	}
	if (d->free_threaded) {
		snprintf(err, err_len, "free-threaded build (3.%dt) is not supported yet", v->minor);
		return -ENOTSUP;
	}
	if (d->gc_size != (__u64)v->state_size || d->gc_collecting != (__u64)v->collecting_off) {
		snprintf(err, err_len,
			 "GC state of this %llu.%llu.%llu build differs from the known layout of "
			 "Python %s (gc.size %llu, collecting at %llu; expected %d, %d)",
			 (unsigned long long)(d->version >> 24),
			 (unsigned long long)(d->version >> 16 & 0xff),
			 (unsigned long long)(d->version >> 8 & 0xff), v->name,
			 (unsigned long long)d->gc_size, (unsigned long long)d->gc_collecting,
			 v->state_size, v->collecting_off);
		return -ENOTSUP;
	}
	if (v->stats_kind == GC_STATS_RING) {
		if (d->gc_generation_stats != (__u64)v->stats_off) {
			snprintf(err, err_len, "Python %s statistics pointer at %llu, expected %d",
				 v->name, (unsigned long long)d->gc_generation_stats, v->stats_off);
			return -ENOTSUP;
		}
		if (d->gc_generation_stats_size != (__u64)v->ring.bytes) {
			snprintf(err, err_len, "Python %s statistics ring is %llu bytes, expected %d",
				 v->name, (unsigned long long)d->gc_generation_stats_size,
				 v->ring.bytes);
			return -ENOTSUP;
		}
	}
	/* interpreters.main follows interpreters.head. */
	l->main_interp_off = d->interpreters_head + 8;
	l->tstate_interp_off = d->tstate_interp;
	l->interp_id_off = d->interp_id;
	l->gc_off = d->interp_gc;
	return 0;
}

static int max(int a, int b)
{
	return a > b ? a : b;
}

/* A field of size bytes at off (-1: absent) lies inside [0, limit). */
static bool inside(int off, int size, int limit)
{
	return off < 0 || off + size <= limit;
}

/*
 * The statistics: record and ring geometry, and the one read per probe that
 * covers them (what the BPF side's bounded buffers can hold).
 */
static int set_stats(struct gc_layout *l, const struct py_version *v, char *err, size_t err_len)
{
	const struct py_gc_record *r = &v->rec;
	int i, need, cap;

	l->stats_off = v->stats_off;
	l->long_lived_off = v->long_lived_off;
	l->heap_size_off = v->heap_size_off;
	l->stats_kind = v->stats_kind;
	l->rec_size = r->size;
	l->rec_collections = r->collections;
	l->rec_collected = r->collected;
	l->rec_uncollectable = r->uncollectable;
	l->rec_candidates = r->candidates;
	l->rec_heap_size = r->heap_size;
	l->rec_ts_start = r->ts_start;
	l->rec_ts_stop = r->ts_stop;
	l->collecting_off = v->collecting_off;
	if (r->size <= 0 || r->collections < 0 || r->collected < 0 || r->uncollectable < 0 ||
	    !inside(r->collections, 8, r->size) || !inside(r->collected, 8, r->size) ||
	    !inside(r->uncollectable, 8, r->size) || !inside(r->candidates, 8, r->size) ||
	    !inside(r->heap_size, 8, r->size) || !inside(r->ts_start, 8, r->size) ||
	    !inside(r->ts_stop, 8, r->size)) {
		snprintf(err, err_len, "Python %s: statistics record fields outside its %d bytes",
			 v->name, r->size);
		return -ENOTSUP;
	}
	if (v->stats_kind == GC_STATS_RING) {
		need = v->ring.bytes;
		cap = GC_RING_BYTES;
		for (i = 0; i < 3; i++) {
			if (v->ring.len[i] <= 0 || v->ring.len[i] > 127 ||
			    v->ring.items_off[i] < 0 ||
			    !inside(v->ring.items_off[i], v->ring.len[i] * r->size, need) ||
			    v->ring.index_off[i] < 0 || !inside(v->ring.index_off[i], 1, need)) {
				snprintf(err, err_len, "Python %s: statistics ring %d outside its "
					 "%d bytes", v->name, i, need);
				return -ENOTSUP;
			}
			l->ring_items_off[i] = v->ring.items_off[i];
			l->ring_index_off[i] = v->ring.index_off[i];
			l->ring_len[i] = v->ring.len[i];
		}
		if (v->ring.seq_off < 0 || !inside(v->ring.seq_off, 4, need)) {
			snprintf(err, err_len, "Python %s: ring seqlock outside its %d bytes",
				 v->name, need);
			return -ENOTSUP;
		}
		l->ring_seq_off = v->ring.seq_off;
	} else {
		/* The counters after generation_stats, relative to it. */
		l->snap_long_lived = v->long_lived_off < 0 ? -1 : v->long_lived_off - v->stats_off;
		l->snap_long_lived_pending = v->long_lived_pending_off < 0 ? -1 :
					     v->long_lived_pending_off - v->stats_off;
		l->snap_heap_size = v->heap_size_off < 0 ? -1 : v->heap_size_off - v->stats_off;
		if ((v->long_lived_off >= 0 && l->snap_long_lived < 0) ||
		    (v->long_lived_pending_off >= 0 && l->snap_long_lived_pending < 0) ||
		    (v->heap_size_off >= 0 && l->snap_heap_size < 0)) {
			snprintf(err, err_len, "Python %s: GC counters before generation_stats",
				 v->name);
			return -ENOTSUP;
		}
		need = max(3 * r->size, max(l->snap_long_lived, max(l->snap_long_lived_pending,
								     l->snap_heap_size)) + 8);
		cap = GC_SNAP_BYTES;
	}
	l->snap_bytes = (need + 7) & ~7;
	if (l->snap_bytes > cap) {
		snprintf(err, err_len, "Python %s: GC statistics need a %d-byte read, more than "
			 "the BPF side's %d (raise GC_%s_BYTES in gcbpf.h)", v->name, l->snap_bytes,
			 cap, v->stats_kind == GC_STATS_RING ? "RING" : "SNAP");
		return -ENOTSUP;
	}
	return 0;
}

int layout__fill(struct gc_layout *l, const struct py_version *v, const struct debug_offsets *d,
		 char *err, size_t err_len)
{
	__u64 anchor = l->anchor_vaddr;
	int ret;

	memset(l, 0xff, sizeof(*l));	/* every offset -1: absent */
	l->anchor_vaddr = anchor;
	if (v->dbg) {
		ret = from_debug_offsets(l, v, d, err, err_len);
		if (ret)
			return ret;
	} else {
		l->main_interp_off = v->main_interp_off;
		l->tstate_interp_off = v->tstate_interp_off;
		l->interp_id_off = v->interp_id_off;
		l->gc_off = v->gc_off;
	}
	return set_stats(l, v, err, err_len);
}
