/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a running process keeps its main interpreter's GC state, found from
 * /proc/PID/maps and a build's layout, and what user space reads there
 * without the probes: the cumulative collection counts (gc.get_stats()),
 * which say how many collections ran before gcbpf armed the process; the
 * advice's thresholds (gc_config.c) start from the same address.
 * Read-only (process_vm_readv): the target is never stopped or written.
 */
#ifndef GCBPF_GC_STATE_H
#define GCBPF_GC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "python/py_build.h"

/*
 * The one of builds[0..n) whose file pid maps at offset 0 (by device and
 * inode, as the build was taken, so a file replaced since still matches):
 * its index, the mapping's start and its /proc/PID/map_files link. -1 when
 * none is mapped, -2 when pid's maps cannot be read (gone).
 */
int gc_state__find_build(pid_t pid, const struct py_build *const *builds, int n, __u64 *start,
			 char *link, size_t link_len);

/* Load bias of the ELF file link mapped (offset 0) at start; sym_name's vaddr too, if given. */
int gc_state__bias(const char *link, __u64 start, const char *sym_name, __u64 *bias,
		   __u64 *sym_vaddr);

/*
 * The address of pid's main interpreter's GC state (b's layout, loaded at
 * bias). 0, -EAGAIN while the main interpreter does not exist yet (*state 0),
 * -EFAULT when pid's memory cannot be read.
 */
int gc_state__locate(pid_t pid, const struct py_build *b, __u64 bias, __u64 *state);

enum gc_counts_state {
	GC_COUNTS_NONE = 0,	/* not read: traced from its start, nothing before */
	GC_COUNTS_READ,		/* collections[] as read */
	GC_COUNTS_UNKNOWN,	/* could not be read: why */
};

/* The collections a process ran before gcbpf armed it, per generation. */
struct gc_counts {
	int state;		/* enum gc_counts_state */
	__s64 collections[3];	/* gc.get_stats()[g]["collections"] */
	char why[96];
};

/*
 * Reads pid's cumulative collections per generation, its interpreter being
 * build b: GC_COUNTS_READ, or GC_COUNTS_UNKNOWN with why. fresh: pid has
 * just exec'd, so a libpython not mapped yet, or an interpreter not created
 * yet, has run no collection (all 0).
 */
void gc_state__read_counts(struct gc_counts *c, pid_t pid, const struct py_build *b, bool fresh);

#endif
