/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by the BPF programs and the loader. No includes: the BPF side
 * gets __u64 & co. from vmlinux.h, the user side from <linux/types.h>.
 * Widest fields first so clang -target bpf and gcc agree on padding.
 */
#ifndef GCBPF_H
#define GCBPF_H

#define GCBPF_COMM_LEN 16
#define GCBPF_MAX_BINARIES 1024
#define GCBPF_MAX_PROBES 8192
/* Capacities, not version facts: each build's read size is gc_layout.snap_bytes. */
#define GC_SNAP_BYTES 136	/* largest array-kind read (on the stack): 3.14.5+ */
#define GC_RING_BYTES 1536	/* per-thread snapshot buffers; 3.15's ring is 1120 */

/* How the loader reached the collector: one per event. */
enum gc_probe_kind {
	GC_PROBE_USDT = 1,
	GC_PROBE_UPROBE = 2,
};

/* gc_probe.flags: what the probed instruction offers. */
enum gc_probe_flags {
	GC_PROBE_TSTATE_RDI = 1 << 0,	/* 1st argument is the PyThreadState* (3.9+) */
	GC_PROBE_REASON_RDX = 1 << 1,	/* 3rd argument is the _PyGC_Reason (3.13+) */
	GC_PROBE_GEN_ESI = 1 << 2,	/* 2nd argument is the requested generation */
};

/* gc_layout.stats_kind: where the per-generation statistics are. */
enum gc_stats_kind {
	GC_STATS_ARRAY = 0,	/* struct gc_generation_stats[3] in the GC state (3.6-3.14) */
	GC_STATS_RING = 1,	/* pointer to struct gc_stats, a seqlock ring (3.15) */
};

/* gc_event.flags */
enum gc_event_flags {
	GC_EV_READ_ERROR = 1 << 0,	/* target memory could not be read: counts unknown */
	GC_EV_STACK = 1 << 1,		/* a struct gc_stack follows the event (--stacks) */
};

/*
 * Where a binary keeps its GC state, as offsets from symbols of the ELF file.
 * One per traced binary, indexed by gc_probe.binary. -1 = not in this build.
 */
struct gc_layout {
	__u64 anchor_vaddr;	/* file vaddr of _PyRuntime (3.7+) or generation_stats (3.6) */
	__s32 main_interp_off;	/* anchor -> PyInterpreterState *main; -1: GC state hangs off the anchor */
	__s32 tstate_interp_off;	/* PyThreadState.interp */
	__s32 interp_id_off;	/* PyInterpreterState.id */
	__s32 gc_off;		/* interp (or anchor) -> GC state */
	__s32 stats_off;	/* GC state -> generation_stats[3] or struct gc_stats * */
	__s32 long_lived_off;	/* GC state -> long_lived_total */
	__s32 heap_size_off;	/* GC state -> heap_size (3.14+) */
	/* One read per probe: snap_bytes from the statistics (stats_off, or the
	 * ring it points to) cover them and, where these are >= 0, the counters
	 * at these offsets from it (GC_STATS_ARRAY). */
	__s32 snap_bytes;	/* <= GC_SNAP_BYTES (array) or GC_RING_BYTES (ring), 8-aligned */
	__s32 snap_long_lived;
	__s32 snap_long_lived_pending;
	__s32 snap_heap_size;
	__s32 stats_kind;	/* enum gc_stats_kind */
	/* One generation's record, at gen * rec_size (array) or in its ring's
	 * newest slot: its fields' offsets, -1 where the record has none. */
	__s32 rec_size;
	__s32 rec_collections;
	__s32 rec_collected;
	__s32 rec_uncollectable;
	__s32 rec_candidates;	/* 3.15 */
	__s32 rec_heap_size;	/* 3.15: at the start of that generation's newest collection */
	/* GC_STATS_RING (3.15): struct gc_stats, read whole; per generation a
	 * ring of records, the newest at its (int8) index. */
	__s32 ring_items_off[3];
	__s32 ring_index_off[3];
	__s32 ring_len[3];
	__s32 ring_seq_off;	/* uint32 seqlock count */
	/* 3.15: the record's own timestamps (-1: none), for the one-probe path. */
	__s32 rec_ts_start;
	__s32 rec_ts_stop;
	__s32 collecting_off;	/* GC state -> int collecting (3.13+), -1: unknown */
	__s32 pad;
};

/* A USDT argument where its note says it is (x86-64). */
struct gc_usdt_arg {
	__s32 disp;		/* deref: displacement from the register */
	__s16 reg_off;		/* the register's offset in struct pt_regs, -1: none */
	__s8 size;		/* bytes, negative when signed */
	__u8 deref;		/* in memory at register + disp, else in the register */
};

/* One attach point: the BPF cookie of a link is its index in the probes map. */
struct gc_probe {
	__u64 vaddr;		/* file vaddr of the probed instruction: load bias = IP - vaddr */
	__u32 binary;		/* index in the layouts map */
	__u32 flags;		/* enum gc_probe_flags */
	struct gc_usdt_arg gen_arg;	/* USDT gc__start: the generation */
};

/* What a record of the events ring is: its first field. */
enum gc_record_type {
	GC_REC_EVENT = 1,	/* struct gc_event (and its stack) */
	GC_REC_CODE = 2,	/* struct gc_code_record: a code object's names (--stacks) */
	GC_REC_SAMPLE = 3,	/* struct gc_sample: --inside, one sample taken in a collection */
	GC_REC_INSIDE_END = 4,	/* struct gc_inside_end: a sampled collection that sent no event */
};

/* One collection, as pushed through the ring buffer. */
struct gc_event {
	__u32 record;		/* GC_REC_EVENT */
	__u32 pad;
	__u64 ts_start;		/* CLOCK_MONOTONIC ns at the collector's entry */
	__u64 ts_stop;		/* ... and at its exit */
	__s64 collected;
	__s64 uncollectable;
	__s64 collections;	/* cumulative, for this generation, after this one */
	__s64 heap_size;	/* tracked objects at the start (3.14+), else -1 */
	__s64 long_lived_total;	/* objects that survived the last full collection, else -1 */
	__s64 long_lived_pending;	/* objects that survived a gen-1 collection since, else -1 */
	__s64 candidates;	/* 3.15: objects examined, else -1 */
	__s64 iid;		/* interpreter id, -1 unknown */
	__u64 cgroup_id;
	__s64 rss;		/* the process's resident memory in bytes at the exit, -1 unknown */
	__u32 pid;
	__u32 tid;
	__u32 binary;		/* index in the layouts map */
	__s16 gen;		/* 0, 1 or 2 */
	__s8 reason;		/* _PyGC_Reason (3.13+ uprobe), else -1 */
	__u8 probe;		/* enum gc_probe_kind */
	__u32 flags;		/* enum gc_event_flags */
	char comm[GCBPF_COMM_LEN];	/* the process's name (its main thread's comm) */
};

/*
 * --stacks: the Python frames of the collecting thread, innermost first,
 * as the BPF side found them (bpf/stack.bpf.h); user space names them.
 */
#define GCBPF_MAX_STACK 256

enum gc_stack_status {
	GC_STACK_OK = 0,	/* the whole chain */
	GC_STACK_DEPTH = 1,	/* cut at the requested depth */
	GC_STACK_FAULT = 2,	/* the chain could not be read further: it ends there */
	GC_STACK_NO_TSTATE = 3,	/* no thread state found: no frames */
	GC_STACK_NONE = 4,	/* this build has no stack layout */
};

/* gc_stack_layout.tstate_from */
enum gc_tstate_from {
	GC_TSTATE_GLOBAL = 0,	/* <= 3.11: the pointer at anchor + tstate_anchor_off */
	GC_TSTATE_GIL = 1,	/* 3.12+: interpreter's GIL last holder (gcstate - gc_off + gil_holder_off) */
};

/* gc_stack_layout.instr_kind */
enum gc_instr_kind {
	GC_INSTR_LASTI = 0,	/* <= 3.10: int f_lasti in the frame */
	GC_INSTR_PTR = 1,	/* 3.11+: instruction pointer; sent as its distance from the code object */
};

/*
 * A code object is named from what the kernel read while its frame ran,
 * never from memory read later (it may be freed and reused by then). Its
 * identity: 3.12+ the interpreter's own per-object co_version (a counter:
 * no two code objects share one); before, its name, file and line table
 * themselves, compared byte for byte (bpf/code.bpf.h).
 */
#define GC_CODE_HDR_MAX 256	/* bytes of a code object read per frame */
#define GC_NAME_MAX 256		/* bytes of a name str's characters sent, at most */
#define GC_FILE_MAX 1024	/* ... of a file name's */
#define GC_TABLE_MAX 16384	/* ... of a line table's */
#define GC_KEY_NAME 128		/* <= 3.11: characters compared as the identity, at most */
#define GC_KEY_FILE 256
#define GC_KEY_TABLE 192

/* Per binary (same index as the layouts map): how to walk its frames. */
struct gc_stack_layout {
	__s64 tstate_anchor_off;	/* GC_TSTATE_GLOBAL: from the gc_layout anchor */
	__s32 gil_holder_off;	/* GC_TSTATE_GIL: interp -> _gil.last_holder */
	__s32 tstate_from;	/* enum gc_tstate_from */
	__s32 tstate_frame_off;	/* tstate -> innermost frame, or -> cframe (3.11/3.12) */
	__s32 cframe_frame_off;	/* cframe -> current_frame, -1: no cframe */
	__s32 read_off;		/* one read per frame: read_len bytes from frame + read_off */
	__s32 read_len;
	__s32 back_off;		/* the caller's frame, relative to read_off */
	__s32 code_off;		/* the code object (3.14+: a tagged stack reference) */
	__s32 instr_off;	/* f_lasti or the instruction pointer */
	__s32 owner_off;	/* 3.11+: frame owner (char), -1: none */
	__u32 owner_max;	/* owners above this are no Python frame (C-stack/base shims) */
	__u32 instr_kind;	/* enum gc_instr_kind */
	__u64 code_tag_mask;	/* low bits to clear from the code pointer */
	/* The code object: one read of co_header bytes per frame. */
	__u64 code_type;	/* PyCode_Type's file vaddr (+ load bias): what a code object is */
	__s32 co_header;
	__s32 co_filename, co_name, co_lines;	/* str, str, bytes */
	__s32 co_firstlineno, co_firsttraceable;	/* int; -1: none */
	__s32 co_version;	/* 3.12+: uint32 per-object counter; -1: none */
	__s32 co_code;		/* 3.11+: the bytecode (co_code_adaptive); -1: none */
	/* str: length (Py_ssize_t), state (bit 5 compact, 6 ascii, 2-4 kind) */
	__s32 str_length, str_state, str_ascii_data, str_compact_data;
	__s32 bytes_size, bytes_data;	/* PyBytesObject: ob_size, ob_sval */
};

/* Why a frame has no name (gc_frame.unknown); 0: named by its code_id. */
enum gc_frame_unknown {
	GC_FRAME_NAMED = 0,
	GC_FRAME_CODE_FAULT,	/* the code object could not be read */
	GC_FRAME_NOT_CODE,	/* the frame's executable is no code object */
	GC_FRAME_STR_FAULT,	/* its name, file or line table could not be read */
	GC_FRAME_RECORD_LOST,	/* the ring had no room for its code record */
	GC_FRAME_UNKNOWN_MAX,
};

struct gc_frame {
	__u64 code_id;		/* the code record naming it (gc_code_record.id); 0: unknown */
	__s32 instr;		/* f_lasti (<= 3.10) or instr_ptr - code (3.11+) */
	__u16 owner;		/* 3.11+: the frame's owner (1: a generator's), else 0 */
	__u16 unknown;		/* enum gc_frame_unknown */
};

/* Follows a gc_event with GC_EV_STACK; nr frames follow it. */
struct gc_stack {
	__u64 load_bias;	/* of the binary in this process: symbol vaddr + bias = address */
	__u32 nr;
	__u32 status;		/* enum gc_stack_status */
	struct gc_frame frames[];
};

/* gc_code_record.flags */
enum gc_code_flags {
	GC_CODE_NAME_CUT = 1 << 0,	/* the name was longer than GC_NAME_MAX bytes */
	GC_CODE_FILE_CUT = 1 << 1,
	GC_CODE_TABLE_CUT = 1 << 2,	/* only the table's first table_len bytes */
};

/*
 * A code object's names, sent the first time the kernel meets its identity
 * (and again when its identity left the kernel's LRU); before the event
 * that refers to it. Names are a str's characters of 1, 2 or 4 bytes (kind).
 */
struct gc_code_record {
	__u32 record;		/* GC_REC_CODE */
	__u32 pid;
	__u64 id;		/* unique per run: (cpu << 48) | count */
	__s32 firstlineno;
	__u32 pad0;
	__u16 name_len, file_len;	/* bytes */
	__u8 name_kind, file_kind;	/* 1, 2, 4 */
	__u8 flags;		/* enum gc_code_flags */
	__u8 pad;
	__u32 table_len;
	__u32 table_size;	/* the line table's whole size */
	/* then the name (GC_NAME_MAX bytes), the file name (GC_FILE_MAX), the table (table_len) */
};

/*
 * --inside: one CPU-clock sample of a thread inside a traced collection,
 * sent while the collection runs (its event follows at the exit). frames:
 * the Python frames above the collector (the code the collection runs:
 * finalizers, callbacks), innermost first, named by code records as
 * --stacks' are; nr 0 when the collector itself was running.
 */
#define GC_INSIDE_DEPTH 64	/* Python frames per sample, at most */

/* gc_sample.flags */
enum gc_sample_flags {
	GC_SAMPLE_KERNEL = 1 << 0,	/* interrupted in the kernel: ip is where it entered it */
	GC_SAMPLE_NO_IP = 1 << 1,	/* the user-space instruction pointer could not be read */
	GC_SAMPLE_NO_WALK = 1 << 2,	/* no frame layout or thread state: frames not read */
};

struct gc_sample {
	__u32 record;		/* GC_REC_SAMPLE */
	__u32 pid;
	__u32 tid;
	__u32 binary;
	__u64 ts_start;		/* the collection's (gc_event.ts_start): what it belongs to */
	__u64 ts;		/* CLOCK_MONOTONIC ns of the sample */
	__u64 ip;		/* user-space instruction pointer */
	__u16 nr;		/* frames that follow */
	__u16 status;		/* enum gc_stack_status of the walk */
	__u32 flags;		/* enum gc_sample_flags */
	/* then nr struct gc_frame */
};

/* A collection that was sampled but sends no event (shorter than --min-ms, ...). */
struct gc_inside_end {
	__u32 record;		/* GC_REC_INSIDE_END */
	__u32 pid;
	__u32 tid;
	__s32 gen;		/* -1: unknown (no counter moved, or unreadable): samples dropped */
	__u64 ts_start;
	__u64 ts_stop;
};

/* Process lifecycle, for following a command's tree and system-wide mode. */
enum gc_proc_event_type {
	PROC_EXEC = 1,		/* a traced (or, system-wide, any) process called exec */
};

/* Values of the `tracked` map. */
enum gc_tracked {
	TRACKED = 1,
	TRACKED_STOPPED = 2,	/* stopped at an exec at least once: continued at the end */
};

struct gc_proc_event {
	__u64 ts;		/* CLOCK_MONOTONIC ns */
	__u32 type;		/* enum gc_proc_event_type */
	__u32 pid;
	__u32 stopped;		/* the BPF side stopped it (SIGSTOP): SIGCONT once armed */
	__u32 pad;
	char comm[GCBPF_COMM_LEN];
};

/* Per-CPU counters, summed by the loader. */
enum gc_counter {
	GC_CNT_LOST,		/* events the ring buffer had no room for */
	GC_CNT_READ_ERRORS,	/* collections whose statistics could not be read */
	GC_CNT_NO_ENTRY,	/* exits in a traced process with no entry seen (attached mid-collection) */
	GC_CNT_SUBMITTED,	/* events handed to the ring buffer */
	GC_CNT_HIST_FULL,	/* pauses not aggregated: the hists map was full */
	GC_CNT_PROC_LOST,	/* exec notifications the ring buffer had no room for */
	GC_CNT_STACK_FAULT,	/* --stacks: walks ended at a frame that could not be read */
	GC_CNT_CODE_SENT,	/* --stacks: code records sent (first sightings) */
	GC_CNT_CODE_LOST,	/* --stacks: code records the ring had no room for */
	GC_CNT_RING_STALE,	/* 3.15 gc__done: the ring's newest record was reported already */
	GC_CNT_FOREIGN,		/* collector entries of processes outside gcbpf's PID namespace, ignored */
	GC_CNT_FOREIGN_EXEC,	/* system-wide: execs outside gcbpf's PID namespace, ignored */
	/* The per-interpreter copy (array kind): collections that read the
	 * statistics at the entry too (no trusted copy yet, another thread in a
	 * collection, 3.14's heap_size), and exits the copy did not explain
	 * (counts unknown: flagged, or dropped when the generation is unknown). */
	GC_CNT_ENTRY_READS,
	GC_CNT_STALE,
	/* USDT pairs (every one a real collection) that moved no counter of the
	 * interpreter read: another interpreter's collection (the probes give
	 * no thread state; --uprobe attributes them). */
	GC_CNT_UNATTRIBUTED,
	GC_CNT_SAMPLES,		/* --inside: samples sent */
	GC_CNT_SAMPLES_LOST,	/* --inside: samples (or their end records) the ring had no room for */
	GC_CNT_MAX,
};

#endif /* GCBPF_H */
