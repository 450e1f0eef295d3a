/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which service a process is, read once per process from /proc: its command
 * line (script or module, e.g. "gunicorn app:app", "-m celery worker"), its
 * systemd unit, its container, and the label that aggregates them (service:
 * the unit, else the container, else the job named by the command line).
 * Command lines can carry secrets: with hide_args only the program, script or
 * module is kept.
 */
#ifndef GCBPF_IDENTITY_H
#define GCBPF_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define IDENTITY_CMDLINE_LEN 256
#define IDENTITY_NAME_LEN 64

struct identity {
	char cmdline[IDENTITY_CMDLINE_LEN];	/* argv joined by spaces, "" if unknown */
	char short_cmd[IDENTITY_NAME_LEN];	/* "gunicorn app:app", "-m celery worker" */
	char job[IDENTITY_NAME_LEN];		/* "gunicorn", "celery": script or module */
	char unit[IDENTITY_NAME_LEN];		/* systemd unit ("app.service"), "" if none */
	char container[16];			/* 12-hex container id, "" if none */
	char service[IDENTITY_NAME_LEN];	/* unit, else container, else job, else comm */
	bool matched;		/* the whole command line matches --match (or there is none) */
};

/*
 * Reads pid's identity; comm names it when /proc has nothing (it exited).
 * match: a glob (--match) for the whole command line, NULL for none.
 */
void identity__read(struct identity *id, pid_t pid, const char *comm, bool hide_args,
		    const char *match);

/*
 * From the raw parts (for tests and for what was read): argv as /proc gives it
 * (NUL-separated, len bytes), the cgroup file's text.
 */
void identity__from(struct identity *id, const char *argv, size_t len, const char *cgroup,
		    const char *comm, bool hide_args);

#endif
