/* SPDX-License-Identifier: GPL-2.0 */
/* A USDT argument from its .note.stapsdt spec ("-4@112(%rsp)"), x86-64. */
#ifndef GCBPF_USDT_ARG_H
#define GCBPF_USDT_ARG_H

#include <linux/types.h>
#include "gcbpf.h"

/*
 * Argument `index` (0-based) of a space-separated spec list, as a register
 * or register-relative memory operand. 0, or -EINVAL for a malformed spec,
 * -ENOTSUP for one the BPF side cannot fetch (constants, %rip, index
 * registers), -ENOENT if there are not that many arguments.
 */
int usdt_arg__parse(const char *args, int index, struct gc_usdt_arg *out);

#endif
