// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <stdint.h>
#include "elf/elf_file.h"
#include "target/rootfs.h"
#include "target/target.h"

static bool is_libpython(const char *path)
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
		if (target__parse_maps_line(line, &m) || !m.path || !is_libpython(m.path))
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

/* Executable file `name` in the colon-separated list `dirs` (our own view). */
static int search_path(const char *name, const char *dirs, char *out, size_t len)
{
	char *copy, *dir, *save = NULL;
	int ret = -ENOENT;

	copy = strdup(dirs);
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		if (!access(out, X_OK)) {
			ret = 0;
			break;
		}
	}
	free(copy);
	return ret;
}

static int find_executable(const char *cmd, char *out, size_t len)
{
	const char *path_env = getenv("PATH");

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	return search_path(cmd, path_env ? path_env : "/usr/local/bin:/usr/bin:/bin", out, len);
}

int target__find_executable(const char *cmd, char *out, size_t len, char *err, size_t err_len)
{
	int ret = find_executable(cmd, out, len);

	if (ret)
		snprintf(err, err_len, "cannot run %s: %s", cmd, strerror(-ret));
	return ret;
}

struct needed_ctx {
	char name[256];
};

static int needed_cb(const char *name, void *vctx)
{
	struct needed_ctx *c = vctx;

	if (!is_libpython(name))
		return 0;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return 1;
}

/* A small regular file inside root_fd read whole (bounded); length or -errno. */
static ssize_t read_rooted(int root_fd, const char *path, char *buf, size_t len)
{
	char err[PATH_MAX + 128];
	int fd = rootfs__open(root_fd, path, err, sizeof(err));
	size_t off = 0;
	ssize_t n = 0;

	if (fd < 0)
		return fd;
	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	close(fd);
	if (n < 0)
		return -EIO;
	buf[off] = 0;
	return off;
}

/* Directories ld.so searches by default, plus /etc/ld.so.conf.d, inside root_fd. */
static void system_lib_dirs(int root_fd, char *buf, size_t len)
{
	static const char conf_dir[] = "/etc/ld.so.conf.d";
	struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_NO_MAGICLINKS };
	struct dirent *de;
	size_t n = snprintf(buf, len, "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:"
			    "/usr/lib64:/lib:/usr/lib:/usr/local/lib");
	DIR *d;
	int fd, files = 0;

	if (root_fd != AT_FDCWD)
		how.resolve |= RESOLVE_IN_ROOT;
	fd = syscall(SYS_openat2, root_fd, conf_dir, &how, sizeof(how));
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* A container may hold any number of files: the first few are read. */
	while ((de = readdir(d)) && n < len - 2 && files < 64) {
		char path[PATH_MAX], text[8192], *line, *save = NULL;
		size_t nl = strlen(de->d_name);

		if (nl < 5 || strcmp(de->d_name + nl - 5, ".conf"))
			continue;
		files++;
		snprintf(path, sizeof(path), "%s/%s", conf_dir, de->d_name);
		if (read_rooted(root_fd, path, text, sizeof(text)) < 0)
			continue;
		for (line = strtok_r(text, "\n", &save); line && n < len - 2;
		     line = strtok_r(NULL, "\n", &save)) {
			line[strcspn(line, " \t#")] = 0;
			if (line[0] == '/')
				n += snprintf(buf + n, len - n, ":%s", line);
		}
	}
	closedir(d);
	if (n >= len)
		buf[len - 1] = 0;
}

int target__find_library(int root_fd, const char *exe, const char *runpath, bool is_runpath,
			 const char *lib, const char *ld_library_path, char *out, size_t len,
			 char *err, size_t err_len)
{
	char dirs[4096], sys[4096], origin[PATH_MAX], *dir, *save = NULL, *slash;
	/* ld.so's order: DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, system. */
	const char *lists[4] = { NULL, ld_library_path, NULL, sys };
	int i, fd;

	if (!lib[0] || strchr(lib, '/')) {
		snprintf(err, err_len, "bad library name '%s'", lib);
		return -EINVAL;
	}
	if (runpath) {
		const char *o = strstr(runpath, "$ORIGIN");

		snprintf(origin, sizeof(origin), "%s", exe);
		slash = strrchr(origin, '/');
		if (slash)
			*(slash == origin ? slash + 1 : slash) = 0;
		else
			snprintf(origin, sizeof(origin), ".");
		if (o)
			snprintf(dirs, sizeof(dirs), "%.*s%s%s", (int)(o - runpath), runpath,
				 origin, o + 7);
		else
			snprintf(dirs, sizeof(dirs), "%s", runpath);
		lists[is_runpath ? 2 : 0] = dirs;
	}
	system_lib_dirs(root_fd, sys, sizeof(sys));
	for (i = 0; i < 4; i++) {
		char *copy;

		if (!lists[i])
			continue;
		copy = strdup(lists[i]);
		if (!copy)
			return -ENOMEM;
		for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
			if (snprintf(out, len, "%s/%s", *dir ? dir : ".", lib) >= (int)len)
				continue;
			fd = rootfs__open(root_fd, out, err, err_len);
			/* Found, or a file ld.so would take but gcbpf must not read. */
			if (fd >= 0 || fd == -EPERM) {
				free(copy);
				return fd;
			}
		}
		free(copy);
	}
	snprintf(err, err_len, "%s needs %s, which was not found", exe, lib);
	return -ENOENT;
}

const char *target__env_lookup(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name), off = 0;

	while (off < len) {
		const char *var = env + off, *end = memchr(var, 0, len - off);

		if (!end)
			return NULL;	/* cut off: not a whole value */
		if ((size_t)(end - var) > nl && !memcmp(var, name, nl) && var[nl] == '=')
			return var + nl + 1;
		off += end - var + 1;
	}
	return NULL;
}

int target__from_exec(struct target *t, pid_t pid, char *err, size_t err_len)
{
	static char env[65536];
	struct needed_ctx nc = { "" };
	struct elf_file ef;
	const char *llp = NULL;
	char path[64], lib[PATH_MAX];
	ssize_t n;
	int ret, fd;

	ret = target__from_pid(t, pid, err, err_len);
	if (ret || is_libpython(t->elf_display))
		return ret;
	/* Just exec'd: ld.so has not mapped libpython yet; find it as it will. */
	ret = elf_file__open(&ef, t->elf_path);
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", t->elf_display, strerror(-ret));
		return ret;
	}
	elf_file__for_each_needed(&ef, needed_cb, &nc);
	if (!nc.name[0]) {
		elf_file__close(&ef);
		return 0;	/* static: the executable is the interpreter (or not Python) */
	}
	t->root_fd = rootfs__open_root(pid);
	if (t->root_fd < 0) {
		ret = t->root_fd;
		snprintf(err, err_len, "cannot open /proc/%d/root: %s", pid, strerror(-ret));
		elf_file__close(&ef);
		return ret;
	}
	snprintf(t->root, sizeof(t->root), "/proc/self/fd/%d", t->root_fd);
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	n = rootfs__read_proc(path, env, sizeof(env));
	if (n > 0)
		llp = target__env_lookup(env, n, "LD_LIBRARY_PATH");
	fd = target__find_library(t->root_fd, t->elf_display, elf_file__runpath(&ef),
				  elf_file__has_runpath(&ef), nc.name, llp, lib, sizeof(lib), err,
				  err_len);
	elf_file__close(&ef);
	if (fd < 0) {
		target__release(t);
		return fd;
	}
	t->fd = fd;
	snprintf(t->elf_display, sizeof(t->elf_display), "%s", lib);
	snprintf(t->elf_path, sizeof(t->elf_path), "/proc/self/fd/%d", fd);
	return 0;
}

int target__parse_shebang(const char *head, size_t n, char *prog, size_t len)
{
	char line[PATH_MAX], *interp, *arg, *save = NULL;
	const char *nl;
	size_t ll;

	if (n < 2 || head[0] != '#' || head[1] != '!')
		return 0;
	/* Bounded by n: the bytes need not hold a newline or a NUL. */
	nl = memchr(head + 2, '\n', n - 2);
	ll = nl ? (size_t)(nl - head - 2) : n - 2;
	ll = strnlen(head + 2, ll);
	if (ll >= sizeof(line))
		return -ENOEXEC;
	memcpy(line, head + 2, ll);
	line[ll] = 0;
	interp = strtok_r(line, " \t", &save);
	if (!interp)
		return -ENOEXEC;
	arg = strtok_r(NULL, " \t", &save);
	/* #!/usr/bin/env [-S] python3: the program env will look up. */
	if (!strcmp(basename(interp), "env")) {
		while (arg && arg[0] == '-')
			arg = strtok_r(NULL, " \t", &save);
		if (!arg)
			return -ENOEXEC;
		interp = arg;
	}
	if (snprintf(prog, len, "%s", interp) >= (int)len)
		return -ENOEXEC;
	return 1;
}

int target__resolve_command(const char *cmd, char *path, size_t path_len, char *err,
			    size_t err_len)
{
	char file[PATH_MAX], head[PATH_MAX], next[PATH_MAX];
	int depth, ret;

	snprintf(next, sizeof(next), "%s", cmd);
	for (depth = 0; depth < 4; depth++) {
		struct needed_ctx nc = { "" };
		struct elf_file ef;
		ssize_t n;
		int fd;

		ret = find_executable(next, file, sizeof(file));
		if (ret) {
			snprintf(err, err_len, "cannot run %s: %s", next, strerror(-ret));
			return ret;
		}
		n = read_rooted(AT_FDCWD, file, head, sizeof(head));
		if (n < 0) {
			snprintf(err, err_len, "cannot read %s: %s", file, strerror(-n));
			return n;
		}
		ret = target__parse_shebang(head, n, next, sizeof(next));
		if (ret < 0)
			break;
		if (ret > 0)
			continue;
		ret = elf_file__open(&ef, file);
		if (ret) {
			snprintf(err, err_len, "%s: %s", file,
				 ret == -ENOEXEC ? "not an ELF file or #! script" : strerror(-ret));
			return ret;
		}
		elf_file__for_each_needed(&ef, needed_cb, &nc);
		if (nc.name[0]) {
			fd = target__find_library(AT_FDCWD, file, elf_file__runpath(&ef),
						  elf_file__has_runpath(&ef), nc.name,
						  getenv("LD_LIBRARY_PATH"), path, path_len, err,
						  err_len);
			elf_file__close(&ef);
			if (fd < 0)
				return fd;
			close(fd);
			return 0;
		}
		elf_file__close(&ef);
		snprintf(path, path_len, "%s", file);
		return 0;
	}
	snprintf(err, err_len, "cannot tell which interpreter %s runs", cmd);
	return -ENOEXEC;
}

static bool fstatfs_is_cgroup2(int fd)
{
	struct statfs sfs;

	return !fstatfs(fd, &sfs) && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* nftw() has no context argument: the id being looked for, and what matched. */
static const char *cgroup_wanted;
static char cgroup_found[PATH_MAX];

static int cgroup_walk(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_D || !strstr(path + ftw->base, cgroup_wanted))
		return 0;
	snprintf(cgroup_found, sizeof(cgroup_found), "%s", path);
	return 1;
}

/* Where cgroup v2 is mounted: /sys/fs/cgroup on most systems. */
static void cgroup2_root(char *buf, size_t len)
{
	char line[PATH_MAX + 256], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");

	snprintf(buf, len, "/sys/fs/cgroup");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %4095s %63s", dir, type) == 2 && !strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			break;
		}
	fclose(f);
}

int target__open_cgroup(const char *arg, char *err, size_t err_len)
{
	char root[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd;

	cgroup2_root(root, sizeof(root));
	if (arg[0] == '/') {
		/* A directory as given, else relative to the cgroup2 mount. */
		if (!stat(arg, &st) && S_ISDIR(st.st_mode))
			snprintf(path, sizeof(path), "%s", arg);
		else
			snprintf(path, sizeof(path), "%s%s", root, arg);
	} else {
		/* A container id: the cgroup directory whose name holds it
		 * (docker-<id>.scope, cri-containerd-<id>.scope, libpod-<id>...). */
		cgroup_wanted = arg;
		if (nftw(root, cgroup_walk, 32, FTW_PHYS) != 1) {
			snprintf(err, err_len, "no cgroup for container '%s' under %s "
				 "(give a cgroup v2 path or a container id)", arg, root);
			return -ENOENT;
		}
		snprintf(path, sizeof(path), "%s", cgroup_found);
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open cgroup %s: %s (give a cgroup v2 path or a "
			 "container id)", path, strerror(errno));
		return -errno;
	}
	if (fstatfs_is_cgroup2(fd)) {
		return fd;
	}
	close(fd);
	snprintf(err, err_len, "%s is not a cgroup v2 directory (cgroup2 not mounted? "
		 "mount -t cgroup2 none DIR)", path);
	return -ENOTDIR;
}

/* A container runtime's 64-hex-digit id in the cgroup path: its first 12. */
void target__container_id(pid_t pid, char *out, size_t len)
{
	char path[64], line[512];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		int run = 0;

		for (; *p; p++) {
			run = isxdigit((unsigned char)*p) ? run + 1 : 0;
			if (run == 64 && !isxdigit((unsigned char)p[1])) {
				snprintf(out, len, "%.12s", p - 63);
				fclose(f);
				return;
			}
		}
	}
	fclose(f);
}
