/* SPDX-License-Identifier: GPL-2.0 */
/* The tracer's attachments (tracer__add_build, tracer__attach, tracer__track: tracer.h). */
#ifndef GCBPF_TRACER_ATTACH_H
#define GCBPF_TRACER_ATTACH_H

#include <stddef.h>

struct tracer;

/*
 * What works, measured on Linux 6.18 (perf_event_paranoid 2): CAP_BPF and
 * CAP_PERFMON load the programs and attach the tracepoints, but every
 * uprobe is refused (EACCES) without CAP_SYS_ADMIN; reading another user's
 * /proc/PID/{exe,maps,root} takes CAP_SYS_PTRACE.
 */
#define PRIV_ADVICE "run as root (uprobes need CAP_SYS_ADMIN: CAP_BPF and CAP_PERFMON are " \
	"not enough; other users' processes need CAP_SYS_PTRACE too)"

/* fork/exit/exec tracepoints, for a command's tree or the whole host. 0 or -errno. */
int attach__processes(struct tracer *t, char *ebuf, size_t elen);

/* --inside: the sampling program on a CPU-clock perf event per CPU. 0 or -errno. */
int attach__sampler(struct tracer *t, char *ebuf, size_t elen);

#endif
