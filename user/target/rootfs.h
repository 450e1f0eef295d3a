/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening the files a traced process supplies (its interpreter, its
 * libraries, its debug files) without trusting them: gcbpf runs as root and
 * any user or container can put a FIFO, a device, a huge file or a symlink
 * to a host file where a libpython is expected. Every such open goes
 * through here: resolved inside the process's own root (never out of it,
 * also not by "..", absolute symlinks or /proc magic links), never blocking,
 * regular files of a sane size only, and never opening a non-regular file
 * (no FIFO or device open side effects).
 */
#ifndef GCBPF_ROOTFS_H
#define GCBPF_ROOTFS_H

#include <stddef.h>
#include <sys/types.h>

/* Far beyond any libpython or its debug file; bigger is not read. */
#define ROOTFS_MAX_FILE (1ULL << 30)

/*
 * An O_PATH fd of pid's root directory (/proc/PID/root: a container's or a
 * chroot's), or of ours for pid 0. The fd keeps the root reachable after
 * the process exits. Returns the fd or -errno.
 */
int rootfs__open_root(pid_t pid);

/*
 * The file at path as a process whose root is root_fd sees it (absolute
 * paths start at that root; AT_FDCWD: ours, relative paths from our cwd).
 * Returns a read-only fd of a regular file, or -errno with a reason in err:
 * -EPERM for a file gcbpf refuses to read (not a regular file, too big, a
 * magic link), -ENOENT and friends as open(2) says.
 */
int rootfs__open(int root_fd, const char *path, char *err, size_t err_len);

/*
 * A kernel link to one file, e.g. /proc/PID/exe or /proc/PID/map_files/RANGE:
 * followed (it names the very inode mapped, deleted or not), then checked
 * as rootfs__open does. Returns the fd or -errno with a reason in err.
 */
int rootfs__open_link(const char *link, char *err, size_t err_len);

/*
 * A /proc file read whole (up to len - 1 bytes, NUL-terminated): bounded,
 * never blocking. Returns the length or -errno.
 */
ssize_t rootfs__read_proc(const char *path, char *buf, size_t len);

#endif
