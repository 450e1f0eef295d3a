// SPDX-License-Identifier: GPL-2.0
#include <asm/ptrace.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elf/usdt_arg.h"

/* Every name of a general-purpose register, and where pt_regs keeps it. */
static const struct {
	const char *names[4];	/* 64, 32, 16, 8 bits */
	size_t off;
} regs[] = {
	{ { "rax", "eax", "ax", "al" }, offsetof(struct pt_regs, rax) },
	{ { "rbx", "ebx", "bx", "bl" }, offsetof(struct pt_regs, rbx) },
	{ { "rcx", "ecx", "cx", "cl" }, offsetof(struct pt_regs, rcx) },
	{ { "rdx", "edx", "dx", "dl" }, offsetof(struct pt_regs, rdx) },
	{ { "rsi", "esi", "si", "sil" }, offsetof(struct pt_regs, rsi) },
	{ { "rdi", "edi", "di", "dil" }, offsetof(struct pt_regs, rdi) },
	{ { "rbp", "ebp", "bp", "bpl" }, offsetof(struct pt_regs, rbp) },
	{ { "rsp", "esp", "sp", "spl" }, offsetof(struct pt_regs, rsp) },
	{ { "r8", "r8d", "r8w", "r8b" }, offsetof(struct pt_regs, r8) },
	{ { "r9", "r9d", "r9w", "r9b" }, offsetof(struct pt_regs, r9) },
	{ { "r10", "r10d", "r10w", "r10b" }, offsetof(struct pt_regs, r10) },
	{ { "r11", "r11d", "r11w", "r11b" }, offsetof(struct pt_regs, r11) },
	{ { "r12", "r12d", "r12w", "r12b" }, offsetof(struct pt_regs, r12) },
	{ { "r13", "r13d", "r13w", "r13b" }, offsetof(struct pt_regs, r13) },
	{ { "r14", "r14d", "r14w", "r14b" }, offsetof(struct pt_regs, r14) },
	{ { "r15", "r15d", "r15w", "r15b" }, offsetof(struct pt_regs, r15) },
};

/* "%reg" of length len -> pt_regs offset, or -1. */
static int reg_offset(const char *s, size_t len)
{
	size_t i, j;

	if (len < 2 || s[0] != '%')
		return -1;
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		for (j = 0; j < 4; j++)
			if (strlen(regs[i].names[j]) == len - 1 &&
			    !strncmp(regs[i].names[j], s + 1, len - 1))
				return regs[i].off;
	return -1;
}

int usdt_arg__parse(const char *args, int index, struct gc_usdt_arg *out)
{
	const char *s = args, *op, *end;
	char *after;
	long size, disp = 0;
	int off;

	for (;;) {
		while (*s == ' ')
			s++;
		if (!*s)
			return -ENOENT;
		if (!index--)
			break;
		s += strcspn(s, " ");
	}
	end = s + strcspn(s, " ");
	/* Digits only where strtol goes: it would skip blanks, maybe past end. */
	if (!isdigit((unsigned char)s[0]) && s[0] != '-')
		return -EINVAL;
	size = strtol(s, &after, 10);
	if (after == s || after >= end || *after != '@' || size < -8 || size > 8 || size == 0 ||
	    (labs(size) & (labs(size) - 1)))
		return -EINVAL;
	op = after + 1;
	if (op >= end)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->size = size;
	if (*op == '%') {
		off = reg_offset(op, end - op);
	} else if (*op == '$') {
		return -ENOTSUP;
	} else {
		const char *open;

		if (*op != '(') {
			if (!isdigit((unsigned char)op[0]) && op[0] != '-')
				return -ENOTSUP;	/* symbolic, e.g. var(%rip) */
			errno = 0;
			disp = strtol(op, &after, 10);
			if (after == op || after >= end)
				return -ENOTSUP;
			if (errno || disp < INT32_MIN || disp > INT32_MAX)
				return -EINVAL;
			op = after;
		}
		open = op;
		/* "(%reg)": at least 4 bytes, a ')' last, no index register. */
		if (end - open < 4 || *open != '(' || end[-1] != ')')
			return -EINVAL;
		if (memchr(open, ',', end - open))
			return -ENOTSUP;
		off = reg_offset(open + 1, end - open - 2);
		out->deref = 1;
		out->disp = disp;
	}
	if (off < 0)
		return -ENOTSUP;
	out->reg_off = off;
	return 0;
}
