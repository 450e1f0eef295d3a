// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "target/rootfs.h"

/* glibc 2.36 has no openat2() wrapper. */
static int sys_openat2(int dirfd, const char *path, struct open_how *how)
{
	return syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

int rootfs__open_root(pid_t pid)
{
	char path[64] = "/";
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/root", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static const char *file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFDIR:
		return "a directory";
	default:
		return "not a regular file";
	}
}

/*
 * From an O_PATH fd (which opened nothing: no FIFO wait, no device open),
 * a readable fd of the same inode if it is a regular file of a sane size.
 * Consumes pfd.
 */
static int reopen_regular(int pfd, const char *what, char *err, size_t err_len)
{
	char self[64];
	struct stat st;
	int fd, fl;

	if (fstat(pfd, &st)) {
		fd = -errno;
		snprintf(err, err_len, "%s: %s", what, strerror(-fd));
		close(pfd);
		return fd;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > ROOTFS_MAX_FILE) {
		if (S_ISREG(st.st_mode))
			snprintf(err, err_len, "%s: %lld bytes, more than any interpreter or "
				 "debug file (%llu): not read", what, (long long)st.st_size,
				 ROOTFS_MAX_FILE);
		else
			snprintf(err, err_len, "%s is %s, not a regular file: not read", what,
				 file_type(st.st_mode));
		close(pfd);
		return -EPERM;
	}
	/* Reopening through our own fd's link reaches that inode and no other. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		fd = -errno;
		snprintf(err, err_len, "cannot open %s: %s", what, strerror(-fd));
		close(pfd);
		return fd;
	}
	close(pfd);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		int ret = -errno;

		snprintf(err, err_len, "%s: fcntl: %s", what, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

int rootfs__open(int root_fd, const char *path, char *err, size_t err_len)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		/* Absolute symlinks and ".." stay inside the root; /proc/PID/fd
		 * style links would jump anywhere. */
		.resolve = RESOLVE_NO_MAGICLINKS | (root_fd == AT_FDCWD ? 0 : RESOLVE_IN_ROOT),
	};
	int fd;

	fd = sys_openat2(root_fd, path, &how);
	if (fd < 0) {
		fd = -errno;
		if (fd == -ELOOP)
			snprintf(err, err_len, "%s: too many symbolic links, or a /proc magic link: "
				 "not followed", path);
		else
			snprintf(err, err_len, "cannot open %s: %s", path, strerror(-fd));
		return fd == -ELOOP ? -EPERM : fd;
	}
	return reopen_regular(fd, path, err, err_len);
}

int rootfs__open_link(const char *link, char *err, size_t err_len)
{
	int fd = open(link, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		fd = -errno;
		snprintf(err, err_len, "cannot open %s: %s", link, strerror(-fd));
		return fd;
	}
	return reopen_regular(fd, link, err, err_len);
}

ssize_t rootfs__read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	size_t off = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	/* Some /proc files (environ, maps) come in pieces. */
	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[off] = 0;
	return off;
}
