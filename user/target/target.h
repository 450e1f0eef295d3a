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
	/*
	 * The ELF file, openable from here without walking the target's paths:
	 * the kernel's link to the very inode (/proc/PID/map_files/RANGE for a
	 * libpython mapping, deleted or not; /proc/PID/exe), or /proc/self/fd/N
	 * once held (fd).
	 */
	char elf_path[PATH_MAX];
	char elf_display[PATH_MAX];	/* the same file as the target sees it */
	char root[32];		/* its root directory: /proc/PID/root, /proc/self/fd/N */
	int fd, root_fd;	/* held by target__hold or target__from_exec, else -1 */
	int build;		/* index in the tracer's builds, -1 before attach */
	bool exited;
};

/*
 * The interpreter's ELF file of a running process: the libpython mapping
 * when there is one, else the executable. 0, or -errno with a reason in err
 * (-EPERM: a file gcbpf refuses to read, see rootfs.h).
 */
int target__from_pid(struct target *t, pid_t pid, char *err, size_t err_len);

/*
 * Holds the ELF file and the root open (fd, root_fd), so that elf_path and
 * root stay valid after the process exits. 0 or -errno with a reason in err.
 */
int target__hold(struct target *t, char *err, size_t err_len);
void target__release(struct target *t);

/* One line of /proc/PID/maps, split in place (newline and " (deleted)" cut off). */
struct maps_line {
	char range[64];		/* "START-END" as maps shows it (zero-padded) */
	unsigned long long start, end;
	const char *path;	/* the file mapped (absolute), NULL for none */
	bool deleted;
};
int target__parse_maps_line(char *line, struct maps_line *m);
/*
 * /proc/PID/map_files/START-END of a mapping: the kernel names it without
 * the leading zeros maps shows (maps 00400000-00452000, map_files
 * 400000-452000).
 */
void target__map_file(char *out, size_t len, pid_t pid, unsigned long long start,
		      unsigned long long end);

/* pid's name from /proc/PID/comm; 0 or -errno. */
int target__comm(pid_t pid, char *comm, size_t len);

/* gcbpf's own PID namespace, as bpf_get_ns_current_pid_tgid() takes it. */
struct target_pidns {
	bool init;		/* the initial (host) one: the kernel's pids are ours */
	unsigned long long dev;	/* nsfs's device, the kernel's encoding (MKDEV) */
	unsigned long long ino;	/* pid:[ino] */
};

/*
 * The PID namespace gcbpf runs in, whose pids the BPF side is told to
 * report (pidns.bpf.h). /proc must be this namespace's, as /proc, -p and the
 * commands gcbpf starts must agree: a /proc mounted for another namespace
 * (unshare --pid without --mount-proc) is refused. 0, or -errno with a
 * one-line reason in err.
 */
int target__pid_ns(struct target_pidns *ns, char *err, size_t err_len);
/*
 * Exactly len bytes of pid's memory at addr (process_vm_readv: read-only,
 * it never writes or stops the target). 0, or -EFAULT (also for addr 0).
 */
int target__read_memory(pid_t pid, unsigned long long addr, void *buf, size_t len);
/* Still running (and not a zombie)? */
bool target__alive(const struct target *t);

/* Whether a file's name (its last component) is a libpython's. */
bool target__is_libpython(const char *path);

#endif
