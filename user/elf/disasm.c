// SPDX-License-Identifier: GPL-2.0
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elf/disasm.h"

/* PyGC_Collect is a few hundred bytes; its .dynsym size is what bounds the walk. */
#define PYGC_MAX_SIZE 4096
#define MAX_TARGETS 32
/* Wrappers like 3.13's _PyGC_Collect are one jmp; never a chain. */
#define MAX_FOLLOW 2

struct call_target {
	uint64_t target, site;
	uint64_t first, last;	/* its first and last call sites */
	int count;		/* calls/jmps to it inside PyGC_Collect */
	bool gen;		/* esi == the generation looked for at one of them */
	bool reason;		/* edx == the reason looked for there too */
};

enum { REG_SI, REG_DX, NR_TRACKED };

/* Which tracked argument register x86 register r is part of, or -1. */
static int tracked(x86_reg r)
{
	switch (r) {
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return REG_SI;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH:
		return REG_DX;
	default:
		return -1;
	}
}

/* The direct target of a call/jmp rel, or 0. */
static uint64_t direct_target(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	if (insn->id != X86_INS_CALL && insn->id != X86_INS_JMP)
		return 0;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return 0;
	return x->operands[0].imm;
}

/*
 * Tracks the immediates moved into esi/edx since the last call: that is how
 * the compiler sets up the generation and reason arguments right before it.
 */
static void track_regs(csh h, const cs_insn *insn, int64_t imm[NR_TRACKED])
{
	const cs_x86 *x = &insn->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd, nwr, i;
	int t;

	if (insn->id == X86_INS_MOV && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    x->operands[1].type == X86_OP_IMM && (t = tracked(x->operands[0].reg)) >= 0 &&
	    (x->operands[0].reg == X86_REG_ESI || x->operands[0].reg == X86_REG_EDX ||
	     x->operands[0].reg == X86_REG_RSI || x->operands[0].reg == X86_REG_RDX)) {
		imm[t] = x->operands[1].imm;
		return;
	}
	if (cs_regs_access(h, insn, rd, &nrd, wr, &nwr))
		return;
	for (i = 0; i < nwr; i++)
		if ((t = tracked(wr[i])) >= 0)
			imm[t] = -1;
}

static bool in_range(uint64_t v, const GElf_Shdr *s)
{
	return v >= s->sh_addr && v < s->sh_addr + s->sh_size;
}

/* Direct call/jmp rel32 anywhere in .text whose target is `target`. */
static int count_callers(const unsigned char *text, const GElf_Shdr *s, uint64_t target)
{
	size_t i;
	int n = 0;

	for (i = 0; i + 5 <= s->sh_size; i++) {
		int32_t rel;

		if (text[i] != 0xe8 && text[i] != 0xe9)
			continue;
		memcpy(&rel, text + i + 1, 4);
		if (s->sh_addr + i + 5 + (int64_t)rel == target)
			n++;
	}
	return n;
}

/*
 * 1 when .eh_frame_hdr lists vaddr as the start of an FDE (a function, or a
 * .cold part), 0 when it does not, -1 when the table cannot be read (an
 * encoding other than GCC/ld's usual datarel|sdata4).
 */
static int eh_frame_start(struct elf_file *ef, uint64_t vaddr, uint64_t *next)
{
	GElf_Shdr s;
	Elf_Scn *scn = elf_file__section(ef, ".eh_frame_hdr", &s);
	Elf_Data *d;
	const unsigned char *p;
	uint32_t count, lo, hi;

	if (!scn || !(d = elf_getdata(scn, NULL)) || !d->d_buf || d->d_size < 12)
		return -1;
	p = d->d_buf;
	/* version 1, eh_frame_ptr any 4-byte encoding, count udata4, table datarel sdata4 */
	if (p[0] != 1 || (p[1] & 0x0f) != 0x0b || p[2] != 0x03 || p[3] != 0x3b)
		return -1;
	memcpy(&count, p + 8, 4);
	if (12 + (uint64_t)count * 8 > d->d_size)
		return -1;
	lo = 0;
	hi = count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int32_t rel;
		uint64_t loc;

		memcpy(&rel, p + 12 + (uint64_t)mid * 8, 4);
		loc = s.sh_addr + (int64_t)rel;
		if (loc == vaddr) {
			*next = 0;
			if (mid + 1 < count) {
				memcpy(&rel, p + 12 + (uint64_t)(mid + 1) * 8, 4);
				*next = s.sh_addr + (int64_t)rel;
			}
			return 1;
		}
		if (loc < vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int read_text(struct elf_file *ef, GElf_Shdr *s, unsigned char **text)
{
	Elf_Scn *scn = elf_file__section(ef, ".text", s);
	Elf_Data *d;

	if (!scn || s->sh_type != SHT_PROGBITS || !(d = elf_getdata(scn, NULL)) || !d->d_buf ||
	    d->d_size != s->sh_size)
		return -ENOENT;
	*text = d->d_buf;
	return 0;
}

/* The calls and jmps of PyGC_Collect into .text, with the esi/edx set up for each. */
static int scan_pygc(csh h, const unsigned char *code, size_t size, uint64_t addr,
		     const GElf_Shdr *text, const struct py_version *v, struct call_target *t,
		     int *nr)
{
	const uint8_t *p = code;
	uint64_t a = addr, end = addr + size;
	int64_t imm[NR_TRACKED] = { -1, -1 };
	cs_insn *insn = cs_malloc(h);
	int i;

	if (!insn)
		return -ENOMEM;
	*nr = 0;
	while (size && cs_disasm_iter(h, &p, &size, &a, insn)) {
		uint64_t target = direct_target(insn);

		if (!target) {
			track_regs(h, insn, imm);
			continue;
		}
		/* Branches inside PyGC_Collect and calls to the PLT are not the collector. */
		if ((target >= addr && target < end) || !in_range(target, text)) {
			if (insn->id == X86_INS_CALL)
				imm[REG_SI] = imm[REG_DX] = -1;
			continue;
		}
		for (i = 0; i < *nr && t[i].target != target; i++)
			;
		if (i == *nr) {
			if (*nr == MAX_TARGETS)
				break;
			memset(&t[i], 0, sizeof(t[i]));
			t[i].target = target;
			t[i].first = insn->address;
			(*nr)++;
		}
		t[i].count++;
		t[i].last = insn->address;
		if (v && imm[REG_SI] == v->disasm_gen) {
			t[i].gen = true;
			t[i].site = insn->address;
			t[i].reason = imm[REG_DX] == v->disasm_reason;
		}
		/* A call clobbers both; after a jmp nothing here runs on that path. */
		imm[REG_SI] = imm[REG_DX] = -1;
	}
	cs_free(insn, 1);
	return 0;
}

/* The target when the code at vaddr is one `jmp rel` (a wrapper), else 0. */
static uint64_t bare_jmp(csh h, const unsigned char *text, const GElf_Shdr *s, uint64_t vaddr)
{
	const uint8_t *p = text + (vaddr - s->sh_addr);
	size_t size = s->sh_addr + s->sh_size - vaddr;
	uint64_t a = vaddr, target = 0;
	cs_insn *insn = cs_malloc(h);

	if (!insn)
		return 0;
	if (size > 16)
		size = 16;
	/* endbr64 first under -fcf-protection. */
	while (cs_disasm_iter(h, &p, &size, &a, insn) && insn->id == X86_INS_ENDBR64)
		;
	if (insn->id == X86_INS_JMP)
		target = direct_target(insn);
	cs_free(insn, 1);
	return target && in_range(target, s) ? target : 0;
}

/*
 * LTO builds (Debian's) keep gc_collect_with_callback out of line, and
 * PyGC_Collect calls it: it calls one function twice (the invoker) around
 * one call of another (the collector). Returns that collector, or 0.
 */
static uint64_t unwrap_callbacks(csh h, const unsigned char *text, const GElf_Shdr *s,
				 uint64_t vaddr, uint64_t end)
{
	struct call_target t[MAX_TARGETS];
	int nr, i, invoker = -1, inner = -1;

	if (!end || end <= vaddr || end - vaddr > PYGC_MAX_SIZE ||
	    end > s->sh_addr + s->sh_size ||
	    scan_pygc(h, text + (vaddr - s->sh_addr), end - vaddr, vaddr, s, NULL, t, &nr))
		return 0;
	for (i = 0; i < nr; i++) {
		if (t[i].count == 2 && invoker < 0)
			invoker = i;
		else if (t[i].count == 1 && inner < 0)
			inner = i;
		else
			return 0;
	}
	if (invoker < 0 || inner < 0 || t[invoker].first >= t[inner].first ||
	    t[inner].first >= t[invoker].last)
		return 0;
	return t[inner].target;
}

int disasm__find_collector(struct elf_file *ef, const struct py_version *v,
			   struct disasm_collector *out, char *err, size_t err_len)
{
	struct call_target t[MAX_TARGETS];
	unsigned char code[PYGC_MAX_SIZE], *text;
	GElf_Shdr ts;
	GElf_Sym sym;
	size_t size;
	uint64_t next, fn_end;
	int nr, i, found = -1, ret;
	csh h;

	memset(out, 0, sizeof(*out));
	if (v->disasm_gen < 0) {
		snprintf(err, err_len, "Python %s's collector cannot be found from PyGC_Collect",
			 v->name);
		return -ENOTSUP;
	}
	if (ef->ehdr.e_machine != EM_X86_64) {
		snprintf(err, err_len, "disassembly is implemented for x86-64 only");
		return -ENOTSUP;
	}
	if (elf_file__find_symbol(ef, "PyGC_Collect", &sym) || read_text(ef, &ts, &text) ||
	    !in_range(sym.st_value, &ts)) {
		snprintf(err, err_len, "no PyGC_Collect in .text to disassemble");
		return -ENOENT;
	}
	size = sym.st_size ? sym.st_size : PYGC_MAX_SIZE;
	if (size > PYGC_MAX_SIZE || sym.st_value + size > ts.sh_addr + ts.sh_size) {
		snprintf(err, err_len, "PyGC_Collect's size %zu is implausible", size);
		return -ENOENT;
	}
	memcpy(code, text + (sym.st_value - ts.sh_addr), size);
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		snprintf(err, err_len, "capstone: cannot open an x86-64 disassembler");
		return -ENOMEM;
	}
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	ret = scan_pygc(h, code, size, sym.st_value, &ts, v, t, &nr);
	if (ret) {
		snprintf(err, err_len, "capstone: out of memory");
		goto out;
	}
	/*
	 * The collector: called once, with the oldest generation (and, where it
	 * takes one, reason MANUAL). The callback invoker gets a string in rsi
	 * and is called twice.
	 */
	for (i = 0; i < nr; i++) {
		if (t[i].count != 1 || !t[i].gen || (v->disasm_reason >= 0 && !t[i].reason))
			continue;
		if (found >= 0) {
			snprintf(err, err_len, "PyGC_Collect calls both %#lx and %#lx with "
				 "generation %d", (unsigned long)t[found].target,
				 (unsigned long)t[i].target, v->disasm_gen);
			ret = -ENOENT;
			goto out;
		}
		found = i;
	}
	if (found < 0) {
		snprintf(err, err_len, "PyGC_Collect makes no single call with generation %d%s "
			 "(%d calls into .text)", v->disasm_gen,
			 v->disasm_reason >= 0 ? " and reason MANUAL" : "", nr);
		ret = -ENOENT;
		goto out;
	}
	out->vaddr = t[found].target;
	out->call_site = t[found].site;
	while (out->followed < MAX_FOLLOW && (next = bare_jmp(h, text, &ts, out->vaddr))) {
		out->vaddr = next;
		out->followed++;
	}
	/* A function entry: .eh_frame says so, and others call it too. */
	ret = eh_frame_start(ef, out->vaddr, &fn_end);
	if (ret == 1 && v->disasm_wrapper &&
	    (next = unwrap_callbacks(h, text, &ts, out->vaddr, fn_end))) {
		out->vaddr = next;
		out->unwrapped = true;
		ret = eh_frame_start(ef, out->vaddr, &fn_end);
	}
	if (ret == 0) {
		snprintf(err, err_len, "%#lx, called from PyGC_Collect, is not a function start "
			 "in .eh_frame_hdr", (unsigned long)out->vaddr);
		ret = -ENOENT;
		goto out;
	}
	out->eh_frame = ret == 1;
	out->callers = count_callers(text, &ts, out->vaddr);
	/*
	 * PyGC_Collect, gc.collect(), the automatic path, at exit; behind an
	 * out-of-line callback wrapper, the wrapper and the exit path.
	 */
	if (out->callers < (out->unwrapped ? 2 : 3)) {
		snprintf(err, err_len, "%#lx, called from PyGC_Collect, has only %d direct "
			 "caller%s in .text", (unsigned long)out->vaddr, out->callers,
			 out->callers == 1 ? "" : "s");
		ret = -ENOENT;
		goto out;
	}
	ret = 0;
out:
	cs_close(&h);
	return ret;
}
