// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "elf_file.h"
#include "py_frames.h"

/*
 * One row per version family; offsets in bytes. Checked, per row, with
 * `gdb -batch -ex 'print (long)&((T *)0)->field'` on the DWARF of:
 *   3.6-3.12  pyenv 3.6.15, 3.7.16, 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1
 *             (libpython, GCC 12); 3.11 also Debian's python3.11d (3.11.2),
 *             whose offsets equal 3.11.7's, so Debian's stripped 3.11.2 uses them
 *   3.13-3.15 pyenv 3.13.0 and sid's python3.13d/3.14d/3.15d; the positions
 *             inside _Py_DebugOffsets from `ptype/o struct _Py_DebugOffsets` of
 *             the same -dbg files; at run time the build's own values replace
 *             the row's (apply_debug_offsets; tests/unit/test_pystack.c reads
 *             them from every build here).
 * The sizes of PyASCIIObject/PyCompactUnicodeObject and the owner enums are
 * from the same DWARF (enum _frameowner: 3.12/3.13 CSTACK = 3; 3.14 adds
 * INTERPRETER = 3, CSTACK = 4; 3.15 INTERPRETER = 3: every owner >= 3 is a
 * shim, never a Python frame).
 */
struct row {
	int minor;
	/* thread state -> innermost frame */
	int tstate_from;	/* enum gc_tstate_from */
	int tstate_global;	/* GLOBAL: offset in _PyRuntime; 3.6: -1, the symbol below */
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
	int lasti_unit;
	/* sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject): where the characters start */
	int ascii_size, compact_size;
};

static const struct row rows[] = {
	/* 3.6: DWARF of pyenv 3.6.15; _PyThreadState_Current from .dynsym */
	{ 6, GC_TSTATE_GLOBAL, -1, -1, 24, -1, 24, 32, 120, -1, GC_INSTR_LASTI, 0,
	  96, 104, 36, 112, -1, -1, PY_LINES_LNOTAB, 1, 48, 72 },
	/* 3.7: pyenv 3.7.16 (_PyRuntime.gilstate.tstate_current = +1480) */
	{ 7, GC_TSTATE_GLOBAL, 1480, -1, 24, -1, 24, 32, 104, -1, GC_INSTR_LASTI, 0,
	  96, 104, 36, 112, -1, -1, PY_LINES_LNOTAB, 1, 48, 72 },
	/* 3.8: pyenv 3.8.18 */
	{ 8, GC_TSTATE_GLOBAL, 1368, -1, 24, -1, 24, 32, 104, -1, GC_INSTR_LASTI, 0,
	  104, 112, 40, 120, -1, -1, PY_LINES_LNOTAB, 1, 48, 72 },
	/* 3.9: pyenv 3.9.18 */
	{ 9, GC_TSTATE_GLOBAL, 568, -1, 24, -1, 24, 32, 104, -1, GC_INSTR_LASTI, 0,
	  104, 112, 40, 120, -1, -1, PY_LINES_LNOTAB, 1, 48, 72 },
	/* 3.10: pyenv 3.10.13; f_lasti counts code units */
	{ 10, GC_TSTATE_GLOBAL, 568, -1, 24, -1, 24, 32, 96, -1, GC_INSTR_LASTI, 0,
	  104, 112, 40, 120, -1, -1, PY_LINES_310, 2, 48, 72 },
	/* 3.11: pyenv 3.11.7 and Debian python3.11d (3.11.2): equal */
	{ 11, GC_TSTATE_GLOBAL, 576, -1, 56, 8, 48, 32, 56, 69, GC_INSTR_PTR, 0,
	  112, 128, 72, 136, 168, 184, PY_LINES_311, 0, 48, 72 },
	/* 3.12: pyenv 3.12.1 (PyInterpreterState._gil at 1040) */
	{ 12, GC_TSTATE_GIL, -1, 1048, 56, 0, 8, 0, 56, 70, GC_INSTR_PTR, 0,
	  112, 128, 68, 136, 176, 192, PY_LINES_311, 0, 40, 56 },
	/* 3.13-3.15: pyenv 3.13.0, sid 3.13d/3.14d/3.15d; replaced by the file's values */
	{ 13, GC_TSTATE_GIL, -1, 7760, 72, -1, 8, 0, 56, 70, GC_INSTR_PTR, 0,
	  112, 128, 68, 136, 184, 200, PY_LINES_311, 0, 40, 56 },
	{ 14, GC_TSTATE_GIL, -1, 7792, 72, -1, 8, 0, 56, 74, GC_INSTR_PTR, 3,
	  112, 128, 68, 136, 192, 208, PY_LINES_311, 0, 40, 56 },
	{ 15, GC_TSTATE_GIL, -1, 7744, 72, -1, 8, 0, 56, 74, GC_INSTR_PTR, 3,
	  112, 128, 68, 136, 192, 208, PY_LINES_311, 0, 40, 56 },
};

/*
 * 3.13+: positions inside _Py_DebugOffsets of the values the rows depend on
 * (the values come from the file, their positions change between minors).
 */
struct dbg_pos {
	int minor, size;
	int gil_holder, current_frame, back, code, instr, owner;
	int co_filename, co_name, co_lines, co_firstlineno, co_code, ascii_size;
};

static const struct dbg_pos dbg_pos[] = {
	{ 13, 584, 144, 184, 232, 240, 248, 264, 280, 296, 304, 312, 344, 560 },
	{ 14, 760, 152, 208, 256, 264, 272, 288, 320, 336, 344, 352, 384, 640 },
	{ 15, 888, 152, 208, 320, 328, 336, 352, 384, 400, 408, 416, 448, 736 },
};

static const struct row *row_for(int minor)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].minor == minor)
			return &rows[i];
	return NULL;
}

/*
 * 3.13+: the file's _Py_DebugOffsets values replace the row's. The first
 * traceable instruction is not published: its offset is believed only
 * where the bytecode starts where the row says (it is the field before).
 */
static int apply_debug_offsets(struct elf_file *ef, struct row *r, char *err, size_t err_len)
{
	const struct dbg_pos *d = NULL;
	unsigned char buf[1024];
	int want_code = r->co_code;
	GElf_Shdr shdr;
	size_t i;
	struct {
		int pos, *field;
	} vals[] = {
		{ 0, &r->gil_holder }, { 0, &r->tstate_frame }, { 0, &r->back }, { 0, &r->code },
		{ 0, &r->instr }, { 0, &r->owner }, { 0, &r->co_filename }, { 0, &r->co_name },
		{ 0, &r->co_lines }, { 0, &r->co_firstlineno }, { 0, &r->co_code },
		{ 0, &r->ascii_size },
	};

	for (i = 0; i < sizeof(dbg_pos) / sizeof(dbg_pos[0]); i++)
		if (dbg_pos[i].minor == r->minor)
			d = &dbg_pos[i];
	if (!d || !elf_file__section(ef, ".PyRuntime", &shdr) ||
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
	if (r->co_code != want_code) {
		snprintf(err, err_len, "code objects of this build differ from gcbpf's 3.%d table "
			 "(co_code_adaptive at %d, expected %d)", r->minor, r->co_code, want_code);
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
	int lo = r->back < r->code ? r->back : r->code, hi;

	lo = (r->instr < lo ? r->instr : lo) & ~7;
	hi = max(max(r->back + 8, r->code + 8),
		 r->instr + (r->instr_kind == GC_INSTR_LASTI ? 4 : 8));
	if (r->owner >= 0)
		hi = max(hi, r->owner + 1);
	l->read_off = lo;
	l->read_len = hi - lo;
	l->back_off = r->back - lo;
	l->code_off = r->code - lo;
	l->instr_off = r->instr - lo;
	l->owner_off = r->owner >= 0 ? r->owner - lo : -1;
}

int py_frames__fill(struct py_frames *f, const struct py_build *b, char *err, size_t err_len)
{
	const struct row *known = row_for(b->minor);
	struct row row, *r = &row;
	struct elf_file ef;
	int ret;

	memset(f, 0, sizeof(*f));
	if (b->free_threaded) {
		snprintf(err, err_len, "free-threaded build (3.%dt): its frames are not walked",
			 b->minor);
		return -ENOTSUP;
	}
	if (!known) {
		snprintf(err, err_len, "no frame layout for Python 3.%d", b->minor);
		return -ENOTSUP;
	}
	row = *known;
	ret = elf_file__open(&ef, b->path);
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", b->display_path, strerror(-ret));
		return -ENOTSUP;
	}
	ret = -ENOTSUP;
	if (r->minor >= 13 && apply_debug_offsets(&ef, r, err, err_len))
		goto out;
	f->minor = r->minor;
	f->bpf.tstate_from = r->tstate_from;
	f->bpf.gil_holder_off = r->gil_holder;
	if (r->tstate_from == GC_TSTATE_GLOBAL) {
		__u64 cur = r->tstate_global >= 0 ? b->layout.anchor_vaddr + r->tstate_global
						  : sym_vaddr(&ef, "_PyThreadState_Current");

		if (!cur) {
			snprintf(err, err_len, "no symbol _PyThreadState_Current");
			goto out;
		}
		f->bpf.tstate_anchor_off = (__s64)(cur - b->layout.anchor_vaddr);
	}
	f->bpf.tstate_frame_off = r->tstate_frame;
	f->bpf.cframe_frame_off = r->cframe_frame;
	frame_read(&f->bpf, r);
	f->bpf.owner_max = 2;	/* THREAD, GENERATOR, FRAME_OBJECT */
	f->bpf.instr_kind = r->instr_kind;
	f->bpf.code_tag_mask = r->tag_mask;
	f->co_filename = r->co_filename;
	f->co_name = r->co_name;
	f->co_firstlineno = r->co_firstlineno;
	f->co_lines = r->co_lines;
	f->co_firsttraceable = r->co_firsttraceable;
	f->co_code = r->co_code;
	f->co_header = max(max(r->co_filename, r->co_name), r->co_lines) + 8;
	f->co_header = max(f->co_header, r->co_firsttraceable + 4);
	f->lines = r->lines;
	f->lasti_unit = r->lasti_unit;
	f->bytes_size = 16;	/* PyVarObject.ob_size */
	f->bytes_data = 32;	/* PyBytesObject.ob_sval, every version */
	f->str_length = 16;
	f->str_state = 32;
	f->str_ascii_data = r->ascii_size;
	f->str_compact_data = r->compact_size;
	f->code_type = sym_vaddr(&ef, "PyCode_Type");
	f->str_type = sym_vaddr(&ef, "PyUnicode_Type");
	f->bytes_type = sym_vaddr(&ef, "PyBytes_Type");
	if (!f->code_type || !f->str_type || !f->bytes_type) {
		snprintf(err, err_len, "no symbols PyCode_Type/PyUnicode_Type/PyBytes_Type to "
			 "check what frames point to");
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
