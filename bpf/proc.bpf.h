/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process lifecycle: fork and exit keep a command's tree in `tracked`
 * (launch mode); exec is reported to the loader (proc_events), which arms
 * probes for a new binary, and a followed process is stopped there until
 * it has. Included by gcbpf.bpf.c after the maps it shares (`tracked`,
 * counters).
 */
#ifndef GCBPF_PROC_BPF_H
#define GCBPF_PROC_BPF_H

/* Set before load. */
const volatile bool targ_stop_on_exec = false;	/* ... stopped at exec until the loader armed probes */
const volatile bool targ_watch_exec = false;	/* -p: report execs of the processes in `tracked` */
/*
 * Cleared by the loader before it stops reading exec events, and by its
 * watchdog when the loader died: nobody would continue a process stopped after.
 */
__u32 stops_live = 1;
const volatile bool targ_report_exec = false;	/* system-wide: report every exec */

#define SIGSTOP 19

/* Process-lifecycle notifications (enum gc_proc_event_type). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} proc_events SEC(".maps");

/* Launch mode: a tracked process's children are tracked from the fork. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(follow_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid;
	__u8 one = 1;

	if (!targ_follow)
		return 0;	/* -p targets' children are not theirs */
	ptgid = pidns__pid_tgid(parent) >> 32;
	ctgid = pidns__pid_tgid(child) >> 32;
	/* 0: outside our namespace, never in `tracked` */
	if (ptgid == ctgid || !bpf_map_lookup_elem(&tracked, &ptgid))
		return 0;	/* a thread; not ours */
	bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY);
	return 0;
}

/* A tracked tgid is forgotten when its process ends, so pids can be reused. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(follow_exit, struct task_struct *p)
{
	__u64 pid_tgid = pidns__pid_tgid(p);
	__u32 tgid = pid_tgid >> 32;

	/* tgid 0: outside our namespace, never in `tracked` */
	if (tgid && (__u32)pid_tgid == tgid)
		bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/*
 * exec: the loader inspects the new image and arms probes for a new binary.
 * In launch mode the process is stopped first (SIGSTOP, delivered before
 * the new image's first instruction) so its first collection is seen; the
 * loader continues it. The mark in `tracked` lets the loader's watchdog
 * find it if the loader dies first. System-wide and -p, nothing is stopped.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(notify_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = pidns__pid_tgid(p) >> 32, zero = 0;
	struct gc_proc_event *e;
	__u8 *mark;
	bool follow;

	/* Outside our namespace: its /proc entry, were it reported, would be
	 * another process's. */
	if (!tgid) {
		if (targ_report_exec)
			count(GC_CNT_FOREIGN_EXEC);
		return 0;
	}
	mark = targ_follow || targ_watch_exec ? bpf_map_lookup_elem(&tracked, &tgid) : NULL;
	follow = mark != NULL;
	if (!follow && !targ_report_exec)
		return 0;
	e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		__u32 which = GC_CNT_PROC_LOST;
		__u64 *c = bpf_map_lookup_elem(&counters, &which);

		if (c)
			*c += 1;
		return 0;	/* not stopped: nobody would continue it */
	}
	e->ts = bpf_ktime_get_ns();
	e->type = PROC_EXEC;
	e->pid = tgid;
	e->stopped = follow && targ_stop_on_exec && stops_live && bpf_send_signal(SIGSTOP) == 0;
	if (e->stopped)
		*mark = TRACKED_STOPPED;
	e->pad = zero;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#endif /* GCBPF_PROC_BPF_H */
