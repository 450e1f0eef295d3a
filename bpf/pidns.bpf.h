/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pids as gcbpf's own PID namespace numbers them. The kernel hands BPF host
 * (initial namespace) pids, while /proc, -p and the commands gcbpf starts
 * use the pids of the namespace gcbpf runs in (a container's): every pid
 * and tid the programs report, key by or look up comes from
 * pidns__pid_tgid(), so both sides agree. A task with no pid in that
 * namespace (the host's, another container's) is not ours.
 */
#ifndef GCBPF_PIDNS_BPF_H
#define GCBPF_PIDNS_BPF_H

#include <bpf/bpf_core_read.h>

/* Set before load, from /proc/self/ns/pid; false in the initial namespace. */
const volatile bool targ_pidns = false;
const volatile __u64 targ_pidns_dev = 0;	/* nsfs's device, the kernel's encoding */
const volatile __u64 targ_pidns_ino = 0;
/*
 * The namespace's depth (the initial one is 0). Found after load by
 * pidns_find_level run in the loader's own context: /proc/self/status's
 * NSpid starts at /proc's namespace, which is ours, so it cannot tell.
 */
__u32 pidns_level = 0;
__u32 pidns_level_found = 0;

/* pid's number in our namespace, false if it has none there. */
static __always_inline bool pidns__nr(struct pid *pid, __u32 level, __u32 *nr)
{
	struct upid up;

	/* From an ancestor namespace (the host's): no number at our level. */
	if (!pid || level > 32 || BPF_CORE_READ(pid, level) < level)
		return false;
	if (bpf_core_read(&up, sizeof(up), &pid->numbers[level]) ||
	    BPF_CORE_READ(up.ns, ns.inum) != targ_pidns_ino)
		return false;	/* a sibling namespace at that depth */
	*nr = up.nr;
	return true;
}

/*
 * task (NULL: the current one) as our namespace sees it, in
 * bpf_get_current_pid_tgid()'s form (tgid << 32 | tid); 0 when it is not in
 * our namespace or one below it (no task of ours has tgid 0: the idle
 * task's). In the initial namespace, what the call sites did before
 * (targ_pidns is a constant the verifier prunes on).
 */
static __always_inline __u64 pidns__pid_tgid(struct task_struct *task)
{
	struct bpf_pidns_info ns;
	__u32 tid, tgid;

	if (!targ_pidns)
		return task ? (__u64)task->tgid << 32 | (__u32)task->pid
			    : bpf_get_current_pid_tgid();
	if (!task) {
		if (!bpf_get_ns_current_pid_tgid(targ_pidns_dev, targ_pidns_ino, &ns, sizeof(ns)))
			return (__u64)ns.tgid << 32 | ns.pid;
		/* The helper wants the task's own namespace to be ours; one
		 * below ours (a container in the container) numbers it too. */
		task = bpf_get_current_task_btf();
	}
	if (!pidns__nr(BPF_CORE_READ(task, thread_pid), pidns_level, &tid) ||
	    !pidns__nr(BPF_CORE_READ(task, group_leader, thread_pid), pidns_level, &tgid))
		return 0;
	return (__u64)tgid << 32 | tid;
}

/* Run once by the loader (BPF_PROG_TEST_RUN, in its own task): our depth. */
SEC("raw_tp")
int pidns_find_level(void *ctx)
{
	struct pid *pid = BPF_CORE_READ(bpf_get_current_task_btf(), thread_pid);
	__u32 level = BPF_CORE_READ(pid, level), nr;

	pidns_level_found = pidns__nr(pid, level, &nr);
	if (pidns_level_found)
		pidns_level = level;
	return 0;
}

#endif /* GCBPF_PIDNS_BPF_H */
