/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Launch mode's command: forked at start, held at a gate until the probes
 * are armed, released, waited for; its exit status as a shell reports it.
 * Every step of the child's life is here.
 */
#ifndef GCBPF_LAUNCH_H
#define GCBPF_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct launch {
	pid_t pid;		/* the command, 0 before start and once reaped */
	int gate;		/* write end of the pipe the child waits on, -1 once released */
	int exit_code;		/* its status as a shell gives it: N, or 128+signal */
};

/* Forks cmd, held before exec. 0 or -errno (said). */
int launch__start(struct launch *l, char *const *cmd);
/* Lets the command exec. */
void launch__release(struct launch *l);
/* Reaps the command if it ended (wait: block until it does); true once reaped. */
bool launch__reap(struct launch *l, bool wait);
/* Tracing failed: a command never released exits without running; a running one gets SIGTERM. */
void launch__abort(struct launch *l);

#endif
