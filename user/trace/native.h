/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --inside: names a sampled user-space address. The process's executable
 * mappings come from /proc/PID/maps (read at its first sample, again when
 * an address falls outside them: a library loaded since); each file's
 * functions from its .symtab, else its separate debug file or
 * MiniDebugInfo (elf/debuginfo.h), else .dynsym, opened once per file
 * through /proc/PID/map_files (the very inode mapped, also in a container).
 * An address no function covers is "binary+0xOFF" (file offset), unnamed.
 */
#ifndef GCBPF_NATIVE_H
#define GCBPF_NATIVE_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "util/vec.h"

struct pystack;
struct native_file;
struct native_proc;

struct native {
	struct pystack *strs;	/* interns the names */
	VEC(struct native_file *) files;
	VEC(struct native_proc *) procs;
	__u64 named, unnamed;	/* addresses looked up */
};

/* A sampled address, named: func and binary interned (binary NULL: in no file mapping). */
struct native_sym {
	const char *func;
	const char *binary;
	bool named;		/* func is a symbol's, not binary+0xOFF */
};

void native__init(struct native *n, struct pystack *strs);
void native__lookup(struct native *n, pid_t pid, __u64 addr, struct native_sym *out);
/* A process that exited: its mappings are dropped (files stay cached). */
void native__forget(struct native *n, pid_t pid);
void native__free(struct native *n);

#endif
