/* SPDX-License-Identifier: GPL-2.0 */
/* What exec would run: a command's interpreter, a just-exec'd process's libpython. */
#ifndef GCBPF_EXEC_H
#define GCBPF_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "target/target.h"

/*
 * The ELF file a command will run its interpreter from, found the way the
 * kernel and ld.so would: PATH, #! lines (also `#!/usr/bin/env python3`),
 * then a DT_NEEDED libpython through RUNPATH/RPATH, LD_LIBRARY_PATH and the
 * system library directories. 0, or -errno with a reason in err.
 */
int target__resolve_command(const char *cmd, char *path, size_t path_len, char *err,
			    size_t err_len);

/* cmd as execvp would find it (PATH); 0, or -errno with a reason in err. */
int target__find_executable(const char *cmd, char *out, size_t len, char *err, size_t err_len);

/*
 * A #! line (the first n bytes of a file) -> the program it runs, in prog;
 * `#!/usr/bin/env [-S] [-opts] python3` gives python3. 1 if it is a #! line
 * naming a program, 0 if not a #! line, -ENOEXEC for an empty or bad one.
 */
int target__parse_shebang(const char *head, size_t n, char *prog, size_t len);

/*
 * ld.so's search for library `lib` needed by `exe` (the path as the target
 * sees it): DT_RPATH (runpath, unless is_runpath), LD_LIBRARY_PATH, DT_RUNPATH,
 * /etc/ld.so.conf.d's and the default directories, all inside root_fd
 * (AT_FDCWD: ours). The found path goes to out; returns its fd
 * (rootfs__open), or -errno with a reason in err.
 */
int target__find_library(int root_fd, const char *exe, const char *runpath, bool is_runpath,
			 const char *lib, const char *ld_library_path, char *out, size_t len,
			 char *err, size_t err_len);

/* The value of `name` in an environ block (NUL-separated, len bytes), or NULL. */
const char *target__env_lookup(const char *env, size_t len, const char *name);

/*
 * Like target__from_pid, for a process that has just called exec: ld.so has
 * not mapped libpython yet, so a DT_NEEDED libpython is looked up in the
 * process's own root (never out of it) and LD_LIBRARY_PATH. Holds the file
 * found (t->fd): target__release.
 */
int target__from_exec(struct target *t, pid_t pid, char *err, size_t err_len);

#endif
