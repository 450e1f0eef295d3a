/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmark's reference programs (scripts/bench.py): what a probe
 * costs with nothing in it, and with only a clock. Attached instead of
 * the collection programs by --empty-probes and --clock-probes.
 */
#ifndef GCBPF_BENCH_BPF_H
#define GCBPF_BENCH_BPF_H

/* The floor of an entry/exit design, for `gcbpf --empty-probes` (benchmark). */
SEC("uprobe")
int probe_empty(struct pt_regs *ctx)
{
	return 0;
}

/*
 * The floor of any pause tracer, for `gcbpf --clock-probes` (benchmark): a
 * timestamp kept per thread at the entry, a duration at the exit. Attached
 * to every kind of point.
 */
struct clock_state {
	__u64 ts_start;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct clock_state);
} clock_states SEC(".maps");

SEC("uprobe")
int clock_enter(struct pt_regs *ctx)
{
	struct clock_state *c = bpf_task_storage_get(&clock_states, bpf_get_current_task_btf(), 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (c)
		c->ts_start = bpf_ktime_get_ns();
	return 0;
}

SEC("uprobe")
int clock_exit(struct pt_regs *ctx)
{
	struct clock_state *c = bpf_task_storage_get(&clock_states, bpf_get_current_task_btf(), 0, 0);

	if (c && c->ts_start)
		c->last_ns = bpf_ktime_get_ns() - c->ts_start;
	return 0;
}

#endif /* GCBPF_BENCH_BPF_H */
