/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The current task: its process's name, resident memory and cgroup as an
 * event carries them, and whether it is one the user asked for (wanted:
 * -p, a command's tree, --cgroup, --comm, our PID namespace). Included by
 * gcbpf.bpf.c after struct inflight and the maps it reads.
 */
#ifndef GCBPF_TASK_BPF_H
#define GCBPF_TASK_BPF_H

/*
 * The process's name: its main thread's comm. The collecting thread's own
 * comm may be a thread name (3.14+ names threads after threading.Thread).
 * Two direct loads through the BTF pointer: a helper call costs ~30 ns here.
 */
static __always_inline void process_comm(char comm[GCBPF_COMM_LEN])
{
	struct task_struct *leader = bpf_get_current_task_btf()->group_leader;

	((__u64 *)comm)[0] = *(__u64 *)&leader->comm[0];
	((__u64 *)comm)[1] = *(__u64 *)&leader->comm[8];
}

/*
 * Resident memory as /proc/PID/status's VmRSS gives it (get_mm_counter: the
 * counters' shared part, file + anon + shmem pages), by direct BTF loads.
 */
static __always_inline __s64 current_rss(void)
{
	struct mm_struct *mm = bpf_get_current_task_btf()->mm;
	__s64 pages;

	if (!mm)
		return -1;
	pages = mm->rss_stat[MM_FILEPAGES].count + mm->rss_stat[MM_ANONPAGES].count +
		mm->rss_stat[MM_SHMEMPAGES].count;
	return pages < 0 ? 0 : pages * 4096;	/* x86-64 pages */
}

/* bpf_get_current_cgroup_id() without the helper call: the same pointers. */
static __always_inline __u64 current_cgroup_id(void)
{
	return bpf_get_current_task_btf()->cgroups->dfl_cgrp->kn->id;
}

/*
 * Whether this process is one the user asked for (probes are per binary).
 * A followed process stays in `tracked` while it lives and a thread's
 * storage dies with the thread, so a thread that passed once is not looked
 * up again (~65 ns a probe); nor is its PID namespace, fixed for life.
 * comm and cgroup can change: checked each time. entry: a collector entry,
 * counted when the process is outside our PID namespace.
 */
static __always_inline bool wanted(const struct inflight *st, bool entry)
{
	if ((targ_follow || targ_pidns) && !(st && st->followed)) {
		__u64 pid_tgid = pidns__pid_tgid(NULL);
		__u32 tgid = pid_tgid >> 32;

		if (!pid_tgid) {
			if (entry)
				count(GC_CNT_FOREIGN);
			return false;
		}
		if (targ_follow && !bpf_map_lookup_elem(&tracked, &tgid))
			return false;
	}
	if (targ_filter_cgroup && bpf_current_task_under_cgroup(&cgroups, 0) != 1)
		return false;
	if (targ_filter_comm) {
		char comm[GCBPF_COMM_LEN];
		int i;

		process_comm(comm);
		for (i = 0; i < GCBPF_COMM_LEN; i++) {
			if (comm[i] != targ_comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	return true;
}

#endif /* GCBPF_TASK_BPF_H */
