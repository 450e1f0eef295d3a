// SPDX-License-Identifier: GPL-2.0
/* usdt_arg: SystemTap argument specs to pt_regs offsets (x86-64). */
#include <errno.h>
#include "check.h"
#include "elf/usdt_arg.h"

int main(void)
{
	struct gc_usdt_arg a;

	/* Debian python3.11's gc__start and gc__done. pt_regs offsets are
	 * restated from the kernel's layout, not taken from the code. */
	CHECK_EQ(usdt_arg__parse("-4@112(%rsp)", 0, &a), 0);
	CHECK_EQ(a.size, -4);
	CHECK_EQ(a.deref, 1);
	CHECK_EQ(a.disp, 112);
	CHECK_EQ(a.reg_off, 152);	/* sp */
	CHECK_EQ(usdt_arg__parse("-8@%r12", 0, &a), 0);
	CHECK_EQ(a.size, -8);
	CHECK_EQ(a.deref, 0);
	CHECK_EQ(a.reg_off, 24);	/* r12 */

	/* Debian's -dbg builds and sid's 3.15: sub-registers, frame offsets. */
	CHECK_EQ(usdt_arg__parse("-4@%r12d", 0, &a), 0);
	CHECK_EQ(a.reg_off, 24);	/* r12 */
	CHECK_EQ(a.size, -4);
	CHECK_EQ(usdt_arg__parse("-4@%ebp", 0, &a), 0);
	CHECK_EQ(a.reg_off, 32);	/* bp */
	CHECK_EQ(usdt_arg__parse("-4@-292(%rbp)", 0, &a), 0);
	CHECK_EQ(a.disp, -292);
	CHECK_EQ(a.deref, 1);

	/* Sub-registers name the same slot; negative and absent displacements. */
	CHECK_EQ(usdt_arg__parse("4@%edi", 0, &a), 0);
	CHECK_EQ(a.reg_off, 112);	/* di */
	CHECK_EQ(a.size, 4);
	CHECK_EQ(usdt_arg__parse("1@%r9b", 0, &a), 0);
	CHECK_EQ(a.reg_off, 64);	/* r9 */
	CHECK_EQ(usdt_arg__parse("-2@-16(%rbp)", 0, &a), 0);
	CHECK_EQ(a.disp, -16);
	CHECK_EQ(a.reg_off, 32);	/* bp */
	CHECK_EQ(usdt_arg__parse("8@(%rax)", 0, &a), 0);
	CHECK_EQ(a.disp, 0);
	CHECK_EQ(a.deref, 1);
	CHECK_EQ(a.reg_off, 80);	/* ax */

	/* The index-th of several. */
	CHECK_EQ(usdt_arg__parse("8@%rdi -4@%esi  8@8(%rdx)", 2, &a), 0);
	CHECK_EQ(a.reg_off, 96);	/* dx */
	CHECK_EQ(a.disp, 8);
	CHECK_EQ(usdt_arg__parse("8@%rdi -4@%esi", 1, &a), 0);
	CHECK_EQ(a.reg_off, 104);	/* si */
	CHECK_EQ(usdt_arg__parse("8@%rdi", 1, &a), -ENOENT);
	CHECK_EQ(usdt_arg__parse("", 0, &a), -ENOENT);

	/* What the BPF side cannot fetch, and what is not a spec. */
	CHECK_EQ(usdt_arg__parse("4@$5", 0, &a), -ENOTSUP);
	CHECK_EQ(usdt_arg__parse("8@counter(%rip)", 0, &a), -ENOTSUP);
	CHECK_EQ(usdt_arg__parse("8@(%rax,%rbx,8)", 0, &a), -ENOTSUP);
	CHECK_EQ(usdt_arg__parse("4@%ah", 0, &a), -ENOTSUP);
	CHECK_EQ(usdt_arg__parse("3@%eax", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("16@%rax", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("%rax", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@8(%rax", 0, &a), -EINVAL);
	/* Found by libFuzzer: strtol skipped the blank into the next spec, and
	 * the parser then read from past its end (negative length). */
	CHECK_EQ(usdt_arg__parse("-8@ 4", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@%rbp 8@ 41", 1, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@ 4(%rax)", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@4 (%rax)", 0, &a), -ENOTSUP);
	CHECK_EQ(usdt_arg__parse("8@()", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@", 0, &a), -EINVAL);
	/* Out of range: no overflow (labs(LONG_MIN)), no truncated displacement. */
	CHECK_EQ(usdt_arg__parse("-9223372036854775808@%rax", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@4294967304(%rax)", 0, &a), -EINVAL);
	CHECK_EQ(usdt_arg__parse("8@-2147483648(%rax)", 0, &a), 0);
	CHECK_EQ(a.disp, -2147483648LL);
	return check_done();
}
