/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --bpftrace: a ready-to-run bpftrace one-liner for one target's build: the
 * USDT pair where the build has it, else a uprobe/uretprobe pair on the
 * collector symbol(s) with the generation from the argument register.
 */
#ifndef GCBPF_ONELINER_H
#define GCBPF_ONELINER_H

#include <stdio.h>
#include <sys/types.h>
#include "python/py_build.h"

/*
 * Writes "# note" lines, then the command line, to f. path: the binary as
 * the host sees it. pid > 0: `bpftrace -p PID`; else cmd: `bpftrace -c 'CMD'`.
 */
void oneliner__print(FILE *f, const struct py_build *b, const char *path, pid_t pid,
		     char *const *cmd);

#endif
