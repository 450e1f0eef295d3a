/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --stacks: which code object a frame runs, proven at the walk.
 *
 * The frame's code object is alive while the walk reads it, so what the
 * walk reads is that object's. The loader never reads the target later (the
 * object may be freed and its memory reused by then): the first time the
 * kernel meets a code object's identity it sends its name, file name and
 * line table in a code record (struct gc_code_record) with a fresh id, and
 * every frame carries that id. An LRU of identities already sent keeps the
 * steady state at one read of the code object per frame.
 *
 * The identity must differ whenever the code differs, also for a code
 * object that reuses a dead one's memory (same address, often the same
 * name and file pointers):
 * - 3.12+: the interpreter numbers every code object (co_version, from a
 *   per-interpreter counter): (process, address, co_version) is unique.
 * - before: nothing in the object is unique, so the identity is its
 *   content: name, file name, first line, the line table's size and first
 *   GC_KEY_TABLE bytes, compared byte for byte. Longer names or file names
 *   are no proof: such frames send their record every time.
 * Included by stack.bpf.h.
 */
#ifndef GCBPF_CODE_BPF_H
#define GCBPF_CODE_BPF_H

/* 3.12+: the identity the interpreter gives. */
struct code_key_version {
	__u64 code;
	__u32 tgid;
	__u32 version;
	__s32 firstlineno;
	__u32 pad;
};

/* <= 3.11: the identity is the content. */
struct code_key_content {
	__u64 code;
	__u32 tgid;
	__s32 firstlineno;
	__u32 table_size;
	__u16 name_len, file_len;
	__u8 name_kind, file_kind;
	__u16 table_len;
	__u8 name[GC_KEY_NAME];
	__u8 file[GC_KEY_FILE];
	__u8 table[GC_KEY_TABLE];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct code_key_version);
	__type(value, __u64);
} code_ids_version SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct code_key_content);
	__type(value, __u64);
} code_ids_content SEC(".maps");

#define CODE_REC_DATA (GC_NAME_MAX + GC_FILE_MAX + GC_TABLE_MAX)

/* Per CPU: the code object's header, the key, the record being built. */
struct code_scratch {
	__u8 hdr[GC_CODE_HDR_MAX];
	__u8 str[64];		/* a str object's header */
	struct code_key_content key;
	struct code_key_version kv;
	__u64 seq;		/* ids this CPU handed out */
	struct gc_code_record rec;
	__u8 data[CODE_REC_DATA];
};

/*
 * Slot 0 for the probes, slot 1 for --inside's samples: a sample (a timer
 * interrupt) may land on a CPU where a probe's program is mid-walk.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct code_scratch);
} code_scratch SEC(".maps");

/* Who the walk is for: the binary's load bias, the pid reported, the scratch slot. */
struct code_ctx {
	__u64 bias;
	__u32 pid;
	__u32 slot;
};

static __always_inline __u64 hdr_u64(const __u8 *hdr, __s32 off)
{
	return *(const __u64 *)(hdr + (off & (GC_CODE_HDR_MAX - 8)));
}

static __always_inline __s32 hdr_s32(const __u8 *hdr, __s32 off)
{
	return *(const __s32 *)(hdr + (off & (GC_CODE_HDR_MAX - 4)));
}

/*
 * A str's characters, at most cap bytes, into dst: 0, or -1 when it could
 * not be read or is no compact str. *cut: it had more.
 */
static __always_inline int code__str(const struct gc_stack_layout *sl, struct code_scratch *cs,
				     __u64 addr, __u8 *dst, __u32 cap, __u16 *len, __u8 *kind,
				     bool *cut)
{
	__u64 length, bytes;
	__u32 state;
	__s32 data;

	if (!addr || bpf_probe_read_user(cs->str, 40, (void *)addr))	/* to the state */
		return -1;
	length = *(__u64 *)(cs->str + (sl->str_length & 0x38));
	state = *(__u32 *)(cs->str + (sl->str_state & 0x3c));
	*kind = (state >> 2) & 7;
	if (!(state & (1 << 5)) || (*kind != 1 && *kind != 2 && *kind != 4) || length > 1 << 20)
		return -1;
	data = (state & (1 << 6)) ? sl->str_ascii_data : sl->str_compact_data;
	bytes = length * *kind;
	*cut = bytes > cap;
	if (bytes > cap)
		bytes = cap;
	*len = bytes;
	asm volatile("" : "+r"(bytes));
	if (bytes <= GC_FILE_MAX && bytes && bpf_probe_read_user(dst, bytes, (void *)(addr + data)))
		return -1;
	return 0;
}

/* A bytes object's first cap bytes into dst; *size: its whole size. */
static __always_inline int code__bytes(const struct gc_stack_layout *sl, struct code_scratch *cs,
				       __u64 addr, __u8 *dst, __u32 cap, __u32 *len, __u32 *size)
{
	__s64 n;
	__u64 bytes;

	if (!addr || bpf_probe_read_user(cs->str, 32, (void *)addr))
		return -1;
	n = *(__s64 *)(cs->str + (sl->bytes_size & 0x18));
	if (n < 0 || n > 1 << 24)
		return -1;
	*size = n;
	bytes = (__u64)n < cap ? (__u64)n : cap;
	*len = bytes;
	asm volatile("" : "+r"(bytes));
	if (bytes <= GC_TABLE_MAX && bytes &&
	    bpf_probe_read_user(dst, bytes, (void *)(addr + sl->bytes_data)))
		return -1;
	return 0;
}

/*
 * Sends code's record with a fresh id; the id, or 0 with *unknown set.
 * cs->hdr holds the code object's header.
 */
static __always_inline __u64 code__send(const struct gc_stack_layout *sl, struct code_scratch *cs,
				   __u32 pid, __u16 *unknown)
{
	struct gc_code_record *r = &cs->rec;
	__u32 table_len = 0, size;
	bool cut = false;
	__u16 n = 0;
	__u8 kind = 0;

	r->record = GC_REC_CODE;
	r->pid = pid;
	r->flags = 0;
	r->firstlineno = hdr_s32(cs->hdr, sl->co_firstlineno);
	if (code__str(sl, cs, hdr_u64(cs->hdr, sl->co_name), cs->data, GC_NAME_MAX, &n, &kind, &cut))
		goto fault;
	r->name_len = n;
	r->name_kind = kind;
	r->flags |= cut ? GC_CODE_NAME_CUT : 0;
	if (code__str(sl, cs, hdr_u64(cs->hdr, sl->co_filename), cs->data + GC_NAME_MAX, GC_FILE_MAX,
		      &n, &kind, &cut))
		goto fault;
	r->file_len = n;
	r->file_kind = kind;
	r->flags |= cut ? GC_CODE_FILE_CUT : 0;
	if (code__bytes(sl, cs, hdr_u64(cs->hdr, sl->co_lines), cs->data + GC_NAME_MAX + GC_FILE_MAX,
			GC_TABLE_MAX, &table_len, &r->table_size))
		goto fault;
	r->table_len = table_len;
	r->flags |= table_len < r->table_size ? GC_CODE_TABLE_CUT : 0;
	r->id = ((__u64)(bpf_get_smp_processor_id() + 1) << 48) | ++cs->seq;
	size = sizeof(*r) + GC_NAME_MAX + GC_FILE_MAX + table_len;
	if (size > sizeof(*r) + CODE_REC_DATA)
		goto fault;
	if (bpf_ringbuf_output(&events, r, size, 0)) {
		count(GC_CNT_CODE_LOST);
		*unknown = GC_FRAME_RECORD_LOST;
		return 0;
	}
	count(GC_CNT_CODE_SENT);
	return r->id;
fault:
	*unknown = GC_FRAME_STR_FAULT;
	return 0;
}

/* <= 3.11: the content identity of the code object in cs->hdr; -1: no proof. */
static __always_inline int code__content_key(const struct gc_stack_layout *sl,
					     struct code_scratch *cs, __u64 code, __u32 tgid)
{
	struct code_key_content *k = &cs->key;
	__u32 len = 0;
	bool cut = false;

	__builtin_memset(k, 0, sizeof(*k));
	k->code = code;
	k->tgid = tgid;
	k->firstlineno = hdr_s32(cs->hdr, sl->co_firstlineno);
	if (code__str(sl, cs, hdr_u64(cs->hdr, sl->co_name), k->name, GC_KEY_NAME, &k->name_len,
		      &k->name_kind, &cut) || cut)
		return -1;
	if (code__str(sl, cs, hdr_u64(cs->hdr, sl->co_filename), k->file, GC_KEY_FILE, &k->file_len,
		      &k->file_kind, &cut) || cut)
		return -1;
	if (code__bytes(sl, cs, hdr_u64(cs->hdr, sl->co_lines), k->table, GC_KEY_TABLE, &len,
			&k->table_size))
		return -1;
	k->table_len = len;
	return 0;
}

/* The id naming code (a frame's code object), or 0 with *unknown set. */
static __always_inline __u64 code__id(const struct gc_stack_layout *sl, struct code_scratch *cs,
				      __u64 code, __u32 pid, __u16 *unknown)
{
	struct code_key_version *kv;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *known, id;

	if (sl->co_version >= 0) {
		kv = &cs->kv;
		kv->code = code;
		kv->tgid = tgid;
		kv->version = (__u32)hdr_s32(cs->hdr, sl->co_version);
		kv->firstlineno = hdr_s32(cs->hdr, sl->co_firstlineno);
		kv->pad = 0;
		/* 0: the counter ran out; no proof, the record goes every time. */
		if (!kv->version)
			return code__send(sl, cs, pid, unknown);
		known = bpf_map_lookup_elem(&code_ids_version, kv);
		if (known)
			return *known;
		id = code__send(sl, cs, pid, unknown);
		if (id)
			bpf_map_update_elem(&code_ids_version, &cs->kv, &id, BPF_ANY);
		return id;
	}
	if (code__content_key(sl, cs, code, tgid))
		return code__send(sl, cs, pid, unknown);
	known = bpf_map_lookup_elem(&code_ids_content, &cs->key);
	if (known)
		return *known;
	id = code__send(sl, cs, pid, unknown);
	if (id)
		bpf_map_update_elem(&code_ids_content, &cs->key, &id, BPF_ANY);
	return id;
}

/*
 * Names frame fr, whose code object is at code: fr->code_id, or 0 with
 * fr->unknown set. 1: the frame has not started (3.11+: before its first
 * traceable instruction, a collection while it is set up): Python hides
 * it, and so does the walk, which does not count it towards the depth; a
 * generator's frame is always shown.
 */
static __noinline int code__frame(const struct gc_stack_layout *sl, __u64 code,
				  const struct code_ctx *c, struct gc_frame *fr)
{
	__u32 slot = c->slot, hdr_len = sl->co_header;
	struct code_scratch *cs = bpf_map_lookup_elem(&code_scratch, &slot);

	fr->code_id = 0;
	fr->unknown = GC_FRAME_NAMED;
	if (!cs)
		return 0;
	if (hdr_len > GC_CODE_HDR_MAX || hdr_len < 16 ||
	    bpf_probe_read_user(cs->hdr, hdr_len, (void *)code)) {
		fr->unknown = GC_FRAME_CODE_FAULT;
		return 0;
	}
	if (hdr_u64(cs->hdr, 8) != sl->code_type + c->bias) {
		fr->unknown = GC_FRAME_NOT_CODE;
		return 0;
	}
	/* code units of 2 bytes */
	if (sl->co_firsttraceable >= 0 && sl->co_code >= 0 && fr->owner != 1 &&
	    fr->instr - sl->co_code < 2 * hdr_s32(cs->hdr, sl->co_firsttraceable))
		return 1;
	fr->code_id = code__id(sl, cs, code, c->pid, &fr->unknown);
	return 0;
}

#endif
