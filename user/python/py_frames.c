// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "elf/elf_file.h"
#include "python/py_frames.h"
#include "python/py_versions.h"

/* The version table's frame facts, for one build (3.13+: its file's values). */
struct row {
	int minor;
	struct py_frame_facts f;
};

/*
 * 3.13+: the file's _Py_DebugOffsets values replace the row's. The first
 * traceable instruction is not published: its offset is believed only
 * where the bytecode starts where the row says (it is the field before).
 */
static int apply_debug_offsets(struct elf_file *ef, struct row *r, const struct py_frame_dbg_pos *d,
			       char *err, size_t err_len)
{
	unsigned char buf[1024];
	int want_code = r->f.co_code;
	GElf_Shdr shdr;
	size_t i;
	struct {
		int pos, *field;
	} vals[] = {
		{ 0, &r->f.gil_holder }, { 0, &r->f.tstate_frame }, { 0, &r->f.back }, { 0, &r->f.code },
		{ 0, &r->f.instr }, { 0, &r->f.owner }, { 0, &r->f.co_filename }, { 0, &r->f.co_name },
		{ 0, &r->f.co_lines }, { 0, &r->f.co_firstlineno }, { 0, &r->f.co_code },
		{ 0, &r->f.ascii_size },
	};

	if (!elf_file__section(ef, ".PyRuntime", &shdr) ||
	    elf_file__read_vaddr(ef, shdr.sh_addr, buf, d->size) || memcmp(buf, "xdebugpy", 8)) {
		snprintf(err, err_len, "no _Py_DebugOffsets to read the frame layout from");
		return -ENOTSUP;
	}
	vals[0].pos = d->gil_holder;
	vals[1].pos = d->current_frame;
	vals[2].pos = d->back;
	vals[3].pos = d->code;
	vals[4].pos = d->instr;
	vals[5].pos = d->owner;
	vals[6].pos = d->co_filename;
	vals[7].pos = d->co_name;
	vals[8].pos = d->co_lines;
	vals[9].pos = d->co_firstlineno;
	vals[10].pos = d->co_code;
	vals[11].pos = d->ascii_size;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		__u64 v;

		memcpy(&v, buf + vals[i].pos, sizeof(v));
		if (v > 1 << 20) {
			snprintf(err, err_len, "_Py_DebugOffsets value %llu at %d is no offset",
				 (unsigned long long)v, vals[i].pos);
			return -ENOTSUP;
		}
		*vals[i].field = v;
	}
	if (r->f.co_code != want_code) {
		snprintf(err, err_len, "code objects of this build differ from gcbpf's 3.%d table "
			 "(co_code_adaptive at %d, expected %d)", r->minor, r->f.co_code, want_code);
		return -ENOTSUP;
	}
	return 0;
}

static __u64 sym_vaddr(struct elf_file *ef, const char *name)
{
	GElf_Sym sym;

	return elf_file__find_symbol(ef, name, &sym) ? 0 : sym.st_value;
}

static int max(int a, int b)
{
	return a > b ? a : b;
}

/* The one read per frame: from the lowest field to the end of the highest. */
static void frame_read(struct gc_stack_layout *l, const struct row *r)
{
	int lo = r->f.back < r->f.code ? r->f.back : r->f.code, hi;

	lo = (r->f.instr < lo ? r->f.instr : lo) & ~7;
	hi = max(max(r->f.back + 8, r->f.code + 8),
		 r->f.instr + (r->f.instr_kind == GC_INSTR_LASTI ? 4 : 8));
	if (r->f.owner >= 0)
		hi = max(hi, r->f.owner + 1);
	l->read_off = lo;
	l->read_len = hi - lo;
	l->back_off = r->f.back - lo;
	l->code_off = r->f.code - lo;
	l->instr_off = r->f.instr - lo;
	l->owner_off = r->f.owner >= 0 ? r->f.owner - lo : -1;
}

int py_frames__fill(struct py_frames *f, const struct py_build *b, char *err, size_t err_len)
{
	const struct py_version *known = b->ver;
	struct row row, *r = &row;
	struct elf_file ef;
	int ret;

	memset(f, 0, sizeof(*f));
	if (b->free_threaded) {
		snprintf(err, err_len, "free-threaded build (3.%dt): its frames are not walked",
			 b->minor);
		return -ENOTSUP;
	}
	if (!known || !known->frames.tstate_frame) {
		snprintf(err, err_len, "no frame layout for Python 3.%d", b->minor);
		return -ENOTSUP;
	}
	row.minor = b->minor;
	row.f = known->frames;
	ret = elf_file__open(&ef, b->path);
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", b->display_path, strerror(-ret));
		return -ENOTSUP;
	}
	ret = -ENOTSUP;
	if (known->frames_dbg && apply_debug_offsets(&ef, r, known->frames_dbg, err, err_len))
		goto out;
	f->minor = r->minor;
	f->bpf.tstate_from = r->f.tstate_from;
	f->bpf.gil_holder_off = r->f.gil_holder;
	if (r->f.tstate_from == GC_TSTATE_GLOBAL) {
		__u64 cur = r->f.tstate_global >= 0 ? b->layout.anchor_vaddr + r->f.tstate_global
						  : sym_vaddr(&ef, "_PyThreadState_Current");

		if (!cur) {
			snprintf(err, err_len, "no symbol _PyThreadState_Current");
			goto out;
		}
		f->bpf.tstate_anchor_off = (__s64)(cur - b->layout.anchor_vaddr);
	}
	f->bpf.tstate_frame_off = r->f.tstate_frame;
	f->bpf.cframe_frame_off = r->f.cframe_frame;
	frame_read(&f->bpf, r);
	f->bpf.owner_max = 2;	/* THREAD, GENERATOR, FRAME_OBJECT */
	f->bpf.instr_kind = r->f.instr_kind;
	f->bpf.code_tag_mask = r->f.tag_mask;
	f->co_code = r->f.co_code;
	f->lines = r->f.lines;
	f->lasti_unit = r->f.lasti_unit;
	/* The kernel reads the code object and its strings (bpf/code.bpf.h). */
	f->bpf.co_filename = r->f.co_filename;
	f->bpf.co_name = r->f.co_name;
	f->bpf.co_firstlineno = r->f.co_firstlineno;
	f->bpf.co_lines = r->f.co_lines;
	f->bpf.co_firsttraceable = r->f.co_firsttraceable;
	f->bpf.co_version = r->f.co_version;
	f->bpf.co_code = r->f.co_code;
	f->bpf.co_header = max(max(max(r->f.co_filename, r->f.co_name), r->f.co_lines) + 8,
			       max(max(r->f.co_firsttraceable, r->f.co_version),
				   r->f.co_firstlineno) + 4);
	f->bpf.bytes_size = 16;	/* PyVarObject.ob_size */
	f->bpf.bytes_data = 32;	/* PyBytesObject.ob_sval, every version */
	f->bpf.str_length = 16;
	f->bpf.str_state = 32;
	f->bpf.str_ascii_data = r->f.ascii_size;
	f->bpf.str_compact_data = r->f.compact_size;
	f->bpf.code_type = sym_vaddr(&ef, "PyCode_Type");
	if (!f->bpf.code_type) {
		snprintf(err, err_len, "no symbol PyCode_Type to check what frames point to");
		goto out;
	}
	if (f->bpf.co_header > GC_CODE_HDR_MAX) {
		snprintf(err, err_len, "code object fields span %d bytes (at most %d)",
			 f->bpf.co_header, GC_CODE_HDR_MAX);
		goto out;
	}
	snprintf(f->source, sizeof(f->source), "gcbpf's 3.%d table%s", r->minor,
		 r->minor >= 13 ? " and the file's _Py_DebugOffsets" : "");
	if (f->bpf.read_len > 128) {
		snprintf(err, err_len, "frame fields span %d bytes (at most 128)", f->bpf.read_len);
		goto out;
	}
	ret = 0;
out:
	elf_file__close(&ef);
	return ret;
}
