// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include "trace/sampler.h"
#include "util/log.h"

/*
 * A fixed period (the kernel turns a frequency into one for cpu-clock
 * anyway): each sample stands for the same CPU time, 1e9 / hz ns.
 */
static int open_cpu_clock(int cpu, unsigned int hz)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.sample_period = 1000000000ULL / hz,
		/* No buffer, no wakeups: the BPF program is the only consumer. */
	};

	return syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int sampler__attach(struct bpf_program *prog, unsigned int hz,
		    int (*add)(void *ctx, struct bpf_link *link), void *ctx, char *err,
		    size_t err_len)
{
	int ncpu = libbpf_num_possible_cpus(), cpu, fd, ret, n = 0;
	struct bpf_link *link;

	if (ncpu <= 0)
		return err_fill(err, err_len, -EINVAL, "--inside: cannot count the CPUs: %s",
				strerror(-ncpu));
	for (cpu = 0; cpu < ncpu; cpu++) {
		fd = open_cpu_clock(cpu, hz);
		if (fd < 0) {
			if (errno == ENODEV)
				continue;	/* a possible CPU that is offline */
			ret = -errno;
			return err_fill(err, err_len, ret, "--inside: cannot open a CPU-clock perf "
					"event on CPU %d: %s%s", cpu, strerror(-ret),
					ret == -EACCES || ret == -EPERM ?
					"; run as root (CAP_PERFMON)" : "");
		}
		link = bpf_program__attach_perf_event(prog, fd);
		if (!link) {
			ret = -errno;
			close(fd);
			return err_fill(err, err_len, ret, "--inside: cannot attach the sampler on "
					"CPU %d: %s", cpu, strerror(-ret));
		}
		ret = add(ctx, link);
		if (ret) {
			bpf_link__destroy(link);
			return err_fill(err, err_len, ret, "--inside: %s", strerror(-ret));
		}
		n++;
	}
	p_debug("inside: sampling %d CPUs at %u Hz", n, hz);
	return 0;
}
