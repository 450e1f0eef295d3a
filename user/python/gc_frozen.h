/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gc.get_freeze_count() from outside: the length of the permanent
 * generation's list in a process's memory (read-only, process_vm_readv).
 */
#ifndef GCBPF_GC_FROZEN_H
#define GCBPF_GC_FROZEN_H

#include <sys/types.h>
#include <linux/types.h>

/*
 * Counts the list whose head (a PyGC_Head) is at head in pid: 0, -EFAULT
 * (the head is unreadable), -EAGAIN (a link did not match: the list changed
 * under the walk, or it is no list), -E2BIG (more than max nodes), -ENOMEM.
 */
int gc_frozen__count(pid_t pid, __u64 head, __s64 max, __s64 *count);

#endif
