// SPDX-License-Identifier: GPL-2.0
/*
 * A running process as gcbpf sees it through /proc: its name, state, memory,
 * mappings and the interpreter's ELF file in it (a libpython mapping, else
 * the executable), held open so that it outlives the process; and
 * gcbpf's own PID namespace. A command or a just-exec'd process: exec.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <stdint.h>
#include "target/rootfs.h"
#include "target/target.h"

bool target__is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

int target__comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	n = rootfs__read_proc(path, comm, len);
	if (n < 0)
		return n;
	comm[strcspn(comm, "\n")] = 0;
	return 0;
}

/* State letter and flags of /proc/PID/stat; 0 or -errno. */
static int proc_stat(pid_t pid, char *state, unsigned long *flags)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (rootfs__read_proc(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	/* comm may hold anything, ')' too: the last one ends it. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EINVAL;
	*state = p[2];
	/* state ppid pgrp session tty_nr tpgid flags */
	if (sscanf(p + 3, " %*d %*d %*d %*d %*d %lu", flags) != 1)
		*flags = 0;
	return 0;
}

int target__read_memory(pid_t pid, unsigned long long addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };

	if (!addr)
		return -EFAULT;
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/* The initial PID namespace's inode: fixed by the kernel (PROC_PID_INIT_INO). */
#define PID_NS_INIT_INO 0xEFFFFFFCUL

int target__pid_ns(struct target_pidns *ns, char *err, size_t err_len)
{
	char self[32];
	struct stat st;
	ssize_t n;

	memset(ns, 0, sizeof(*ns));
	/* /proc/self is the reader whichever namespace /proc was mounted for. */
	if (stat("/proc/self/ns/pid", &st)) {
		int ret = -errno;

		snprintf(err, err_len, "cannot tell gcbpf's PID namespace: /proc/self/ns/pid: %s "
			 "(is /proc mounted?)", strerror(-ret));
		return ret;
	}
	ns->init = st.st_ino == PID_NS_INIT_INO;
	ns->ino = st.st_ino;
	/* The kernel compares with its own dev_t (major << 20 | minor), not stat's. */
	ns->dev = (unsigned long long)major(st.st_dev) << 20 | minor(st.st_dev);
	/* /proc/self names us by the pid of /proc's namespace. */
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n > 0)
		self[n] = 0;
	if (n <= 0 || atoi(self) != getpid()) {
		snprintf(err, err_len, "/proc is another PID namespace's (gcbpf is pid %d, /proc "
			 "calls it %s): its pids would not be this namespace's; mount a /proc for "
			 "it (unshare --pid --fork --mount-proc, mount -t proc proc /proc)",
			 getpid(), n > 0 ? self : "nothing");
		return -EXDEV;
	}
	return 0;
}

bool target__alive(const struct target *t)
{
	unsigned long flags;
	char state;

	return !proc_stat(t->pid, &state, &flags) && state != 'Z' && state != 'X';
}

/* Why /proc/PID/... could not be read, for the message. */
static const char *proc_hint(pid_t pid, int ret)
{
	unsigned long flags = 0;
	char state = 0;

	if (ret == -EACCES || ret == -EPERM)
		return geteuid() ? " (run as root)" :
		       " (even as root: the process holds capabilities gcbpf lacks, or a security "
		       "module denies access)";
	if (proc_stat(pid, &state, &flags))
		return " (the process exited)";
	if (state == 'Z' || state == 'X')
		return " (a zombie: it exited and its parent has not reaped it; nothing to trace)";
	if (flags & 0x00200000)	/* PF_KTHREAD */
		return " (a kernel thread)";
	return "";
}

/*
 * /proc/PID/maps and /proc/PID/exe show paths from our root; the target's
 * own view of a file (a chroot's, a container's) drops its root's prefix.
 */
static void target_view(pid_t pid, char *path)
{
	char link[64], root[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	n = readlink(link, root, sizeof(root) - 1);
	if (n <= 1)
		return;
	root[n] = 0;
	if (!strncmp(path, root, n) && path[n] == '/')
		memmove(path, path + n, strlen(path + n) + 1);
}

int target__parse_maps_line(char *line, struct maps_line *m)
{
	static const char deleted[] = " (deleted)";
	size_t n = strcspn(line, " "), len;
	char *p = line;
	int field;

	memset(m, 0, sizeof(*m));
	line[strcspn(line, "\n")] = 0;
	/* START-END PERMS OFFSET DEV INODE [PATH] */
	if (!n || n >= sizeof(m->range) || strspn(line, "0123456789abcdef-") != n ||
	    !memchr(line, '-', n))
		return -EINVAL;
	memcpy(m->range, line, n);
	if (sscanf(m->range, "%llx-%llx", &m->start, &m->end) != 2)
		return -EINVAL;
	for (field = 0; field < 5; field++) {
		p += strcspn(p, " ");
		if (!*p)
			return field == 4 ? 0 : -EINVAL;
		p += strspn(p, " ");
	}
	if (*p != '/')
		return 0;	/* anonymous, [heap], [vdso]... */
	len = strlen(p);
	if (len > sizeof(deleted) - 1 && !strcmp(p + len - (sizeof(deleted) - 1), deleted)) {
		p[len - (sizeof(deleted) - 1)] = 0;
		m->deleted = true;
	}
	m->path = p;
	return 0;
}

void target__map_file(char *out, size_t len, pid_t pid, unsigned long long start,
		      unsigned long long end)
{
	snprintf(out, len, "/proc/%d/map_files/%llx-%llx", pid, start, end);
}

static void target_init(struct target *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->fd = -1;
	t->root_fd = -1;
	t->build = -1;
	snprintf(t->root, sizeof(t->root), "/proc/%d/root", pid);
}

int target__from_pid(struct target *t, pid_t pid, char *err, size_t err_len)
{
	char path[64], line[PATH_MAX + 128];
	struct maps_line m;
	FILE *maps;
	ssize_t n;

	target_init(t, pid);
	if (target__comm(pid, t->comm, sizeof(t->comm))) {
		snprintf(err, err_len, "no such process: %d", pid);
		return -ESRCH;
	}

	/* A kernel file: read in bounded lines, never blocks. */
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps) {
		int ret = -errno;

		snprintf(err, err_len, "cannot read /proc/%d/maps: %s%s", pid, strerror(-ret),
			 proc_hint(pid, ret));
		return ret;
	}
	while (fgets(line, sizeof(line), maps)) {
		if (target__parse_maps_line(line, &m) || !m.path || !target__is_libpython(m.path))
			continue;
		/* The mapping itself names the inode, also when the file was deleted
		 * or replaced since (a package upgrade): no path is walked. */
		snprintf(t->elf_display, sizeof(t->elf_display), "%s%s", m.path,
			 m.deleted ? " (deleted)" : "");
		target__map_file(t->elf_path, sizeof(t->elf_path), pid, m.start, m.end);
		break;
	}
	fclose(maps);

	if (!t->elf_display[0]) {
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, t->elf_display, sizeof(t->elf_display) - 1);
		if (n < 0) {
			int ret = -errno;

			snprintf(err, err_len, "cannot read /proc/%d/exe: %s%s", pid,
				 strerror(-ret), proc_hint(pid, ret));
			return ret;
		}
		t->elf_display[n] = 0;
		snprintf(t->elf_path, sizeof(t->elf_path), "%s", path);
	}
	target_view(pid, t->elf_display);
	return 0;
}

int target__hold(struct target *t, char *err, size_t err_len)
{
	if (t->root_fd < 0) {
		t->root_fd = rootfs__open_root(t->pid);
		if (t->root_fd < 0) {
			snprintf(err, err_len, "cannot open /proc/%d/root: %s", t->pid,
				 strerror(-t->root_fd));
			return t->root_fd;
		}
		snprintf(t->root, sizeof(t->root), "/proc/self/fd/%d", t->root_fd);
	}
	if (t->fd < 0) {
		t->fd = rootfs__open_link(t->elf_path, err, err_len);
		if (t->fd < 0)
			return t->fd;
		snprintf(t->elf_path, sizeof(t->elf_path), "/proc/self/fd/%d", t->fd);
	}
	return 0;
}

void target__release(struct target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->root_fd >= 0)
		close(t->root_fd);
	t->fd = t->root_fd = -1;
}
