/* SPDX-License-Identifier: GPL-2.0 */
/* A process to trace, and the ELF file in it that holds the interpreter. */
#ifndef GCBPF_TARGET_H
#define GCBPF_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct target {
	pid_t pid;
	char comm[16];
	char elf_path[PATH_MAX];	/* openable from here: /proc/PID/root/... */
	char elf_display[PATH_MAX];	/* the same file as the target sees it */
	int build;		/* index in the tracer's builds, -1 before attach */
	bool exited;
};

/*
 * The interpreter's ELF file of a running process: the libpython mapping
 * when there is one, else the executable, reached through /proc/PID/root so
 * paths inside containers work. 0, or -errno with a reason in err.
 */
int target__from_pid(struct target *t, pid_t pid, char *err, size_t err_len);

/*
 * Like target__from_pid, for a process that has just called exec: ld.so has
 * not mapped libpython yet, so a DT_NEEDED libpython is looked up in the
 * process's own root and LD_LIBRARY_PATH.
 */
int target__from_exec(struct target *t, pid_t pid, char *err, size_t err_len);

/* cmd as execvp would find it (PATH); 0, or -errno with a reason in err. */
int target__find_executable(const char *cmd, char *out, size_t len, char *err, size_t err_len);

/*
 * --cgroup: an fd of a cgroup v2 directory (a path, absolute or under
 * /sys/fs/cgroup) or of the one whose name holds a container id.
 * Returns the fd, or -errno with a reason in err.
 */
int target__open_cgroup(const char *arg, char *err, size_t err_len);

/* The 12-character container id in pid's cgroup path (a 64-hex-digit run), or "". */
void target__container_id(pid_t pid, char *out, size_t len);

/* pid's name from /proc/PID/comm; 0 or -errno. */
int target__comm(pid_t pid, char *comm, size_t len);

/* Still running (and not a zombie)? */
bool target__alive(const struct target *t);

/*
 * The ELF file a command will run its interpreter from, found the way the
 * kernel and ld.so would: PATH, #! lines (also `#!/usr/bin/env python3`),
 * then a DT_NEEDED libpython through RUNPATH/RPATH, LD_LIBRARY_PATH and the
 * system library directories. 0, or -errno with a reason in err.
 */
int target__resolve_command(const char *cmd, char *path, size_t path_len, char *err,
			    size_t err_len);

#endif
