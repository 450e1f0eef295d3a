// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf_file.h"
#include "target.h"

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

static int read_small_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

int target__comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	n = read_small_file(path, comm, len);
	if (n < 0)
		return n;
	comm[strcspn(comm, "\n")] = 0;
	return 0;
}

bool target__alive(const struct target *t)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", t->pid);
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return false;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/*
 * /proc/PID/maps and /proc/PID/exe show paths from our root; the target's
 * own view of a file (a chroot's, a container's) drops its root's prefix.
 */
static void target_view(pid_t pid, char *path, size_t len)
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
	(void)len;
}

int target__from_pid(struct target *t, pid_t pid, char *err, size_t err_len)
{
	char path[64], line[PATH_MAX + 128], range[64] = "";
	FILE *maps;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->build = -1;
	if (target__comm(pid, t->comm, sizeof(t->comm))) {
		snprintf(err, err_len, "no such process: %d", pid);
		return -ESRCH;
	}

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps) {
		int ret = -errno;

		snprintf(err, err_len, "cannot read /proc/%d/maps: %s%s", pid, strerror(-ret),
			 ret == -EACCES ? " (run as root)" : "");
		return ret;
	}
	while (fgets(line, sizeof(line), maps)) {
		char *file = strchr(line, '/');

		if (!file)
			continue;
		file[strcspn(file, "\n")] = 0;
		if (is_libpython(file) && !strstr(file, " (deleted)")) {
			snprintf(t->elf_display, sizeof(t->elf_display), "%s", file);
			snprintf(range, sizeof(range), "%.*s", (int)strcspn(line, " "), line);
			break;
		}
	}
	fclose(maps);

	if (!t->elf_display[0]) {
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, t->elf_display, sizeof(t->elf_display) - 1);
		if (n < 0) {
			int ret = -errno;

			snprintf(err, err_len, "cannot read /proc/%d/exe: %s%s", pid,
				 strerror(-ret), ret == -ENOENT ? " (kernel thread?)" : "");
			return ret;
		}
		t->elf_display[n] = 0;
	}
	target_view(pid, t->elf_display, sizeof(t->elf_display));
	/* Reach the file through the target's root (containers, chroots)... */
	snprintf(t->elf_path, sizeof(t->elf_path), "/proc/%d/root%s", pid, t->elf_display);
	if (access(t->elf_path, R_OK)) {
		/* ... or, deleted or replaced since, through the mapping itself. */
		if (range[0])
			snprintf(t->elf_path, sizeof(t->elf_path), "/proc/%d/map_files/%s", pid,
				 range);
		else
			snprintf(t->elf_path, sizeof(t->elf_path), "/proc/%d/exe", pid);
	}
	return 0;
}

/* Executable file `name` in the colon-separated list `dirs`. */
static int find_executable(const char *cmd, char *out, size_t len);

static int search_dirs(const char *name, const char *dirs, int mode, char *out, size_t len)
{
	char *copy, *dir, *save = NULL;
	int ret = -ENOENT;

	if (!dirs)
		return -ENOENT;
	copy = strdup(dirs);
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		if (!access(out, mode)) {
			ret = 0;
			break;
		}
	}
	free(copy);
	return ret;
}

int target__find_executable(const char *cmd, char *out, size_t len, char *err, size_t err_len)
{
	int ret = find_executable(cmd, out, len);

	if (ret)
		snprintf(err, err_len, "cannot run %s: %s", cmd, strerror(-ret));
	return ret;
}

static int find_executable(const char *cmd, char *out, size_t len)
{
	const char *path_env = getenv("PATH");

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	return search_dirs(cmd, path_env ? path_env : "/usr/local/bin:/usr/bin:/bin", X_OK, out,
			   len);
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

/* Directories ld.so searches by default, plus /etc/ld.so.conf.d. */
static void system_lib_dirs(char *buf, size_t len)
{
	glob_t g;
	size_t i;
	int n = snprintf(buf, len, "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:"
			 "/usr/lib64:/lib:/usr/lib:/usr/local/lib");

	if (glob("/etc/ld.so.conf.d/*.conf", 0, NULL, &g))
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "re");
		char line[PATH_MAX];

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && n < (int)len - 2) {
			line[strcspn(line, "\n")] = 0;
			if (line[0] == '/')
				n += snprintf(buf + n, len - n, ":%s", line);
		}
		fclose(f);
	}
	globfree(&g);
}

/*
 * The libpython a dynamically linked interpreter `exe` needs, found as ld.so
 * would: RUNPATH/RPATH ($ORIGIN = exe's directory), LD_LIBRARY_PATH, the
 * system directories. `root` prefixes every path looked at (a process's
 * /proc/PID/root, or "" for our own view); `out` is the path under root.
 */
static int resolve_libpython(const char *root, const char *exe, struct elf_file *ef,
			     const char *lib, const char *ld_library_path, char *out, size_t len)
{
	const char *runpath = elf_file__runpath(ef);
	char dirs[4096], rooted[8192], found[PATH_MAX], *exe_copy, *dir, *save = NULL;
	/* ld.so's order: DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, system. */
	const char *lists[4] = { NULL, ld_library_path, NULL, NULL };
	int path_slot = elf_file__has_runpath(ef) ? 2 : 0;
	int i;

	if (runpath) {
		const char *o = strstr(runpath, "$ORIGIN");

		exe_copy = strdup(exe);
		if (!exe_copy)
			return -ENOMEM;
		if (o)
			snprintf(dirs, sizeof(dirs), "%.*s%s%s", (int)(o - runpath), runpath,
				 dirname(exe_copy), o + 7);
		else
			snprintf(dirs, sizeof(dirs), "%s", runpath);
		free(exe_copy);
		lists[path_slot] = strdupa(dirs);
	}
	system_lib_dirs(dirs, sizeof(dirs));
	lists[3] = dirs;
	for (i = 0; i < 4; i++) {
		char *copy;

		if (!lists[i])
			continue;
		/* Prefix each directory with root, then search. */
		copy = strdupa(lists[i]);
		rooted[0] = 0;
		for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
			snprintf(rooted + strlen(rooted), sizeof(rooted) - strlen(rooted), "%s%s%s",
				 rooted[0] ? ":" : "", root, dir);
		if (!search_dirs(lib, rooted, R_OK, found, sizeof(found))) {
			snprintf(out, len, "%s", found + strlen(root));
			return 0;
		}
	}
	return -ENOENT;
}

/* LD_LIBRARY_PATH from a process's environment, or NULL. */
static char *environ_ld_library_path(pid_t pid, char *buf, size_t len)
{
	char path[64];
	size_t n, off = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	while (off < n) {
		char *var = buf + off;

		if (!strncmp(var, "LD_LIBRARY_PATH=", 16))
			return var + 16;
		off += strlen(var) + 1;
	}
	return NULL;
}

int target__from_exec(struct target *t, pid_t pid, char *err, size_t err_len)
{
	static char env[65536];
	struct needed_ctx nc = { "" };
	struct elf_file ef;
	char root[64], exe[PATH_MAX], lib[PATH_MAX];
	int ret;

	ret = target__from_pid(t, pid, err, err_len);
	if (ret || strstr(t->elf_display, "libpython"))
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
	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	snprintf(exe, sizeof(exe), "%s", t->elf_display);
	ret = resolve_libpython(root, exe, &ef, nc.name,
				environ_ld_library_path(pid, env, sizeof(env)), lib, sizeof(lib));
	elf_file__close(&ef);
	if (ret) {
		snprintf(err, err_len, "%s needs %s, which was not found", t->elf_display, nc.name);
		return ret;
	}
	snprintf(t->elf_display, sizeof(t->elf_display), "%s", lib);
	snprintf(t->elf_path, sizeof(t->elf_path), "%s%s", root, lib);
	return 0;
}

int target__resolve_command(const char *cmd, char *path, size_t path_len, char *err,
			    size_t err_len)
{
	char file[PATH_MAX], head[PATH_MAX];
	const char *next = cmd;
	int depth, ret;

	for (depth = 0; depth < 4; depth++) {
		struct needed_ctx nc = { "" };
		struct elf_file ef;
		char *interp, *arg, *save = NULL;
		int n;

		ret = find_executable(next, file, sizeof(file));
		if (ret) {
			snprintf(err, err_len, "cannot run %s: %s", next, strerror(-ret));
			return ret;
		}
		snprintf(head, sizeof(head), "%s", file);
		n = read_small_file(file, head, sizeof(head));
		if (n < 0) {
			snprintf(err, err_len, "cannot read %s: %s", file, strerror(-n));
			return n;
		}
		if (n > 2 && head[0] == '#' && head[1] == '!') {
			head[strcspn(head, "\n")] = 0;
			interp = strtok_r(head + 2, " \t", &save);
			arg = strtok_r(NULL, " \t", &save);
			if (!interp)
				break;
			/* #!/usr/bin/env [-S] python3: the program env will look up. */
			if (!strcmp(basename(interp), "env")) {
				while (arg && arg[0] == '-')
					arg = strtok_r(NULL, " \t", &save);
				if (!arg)
					break;
				next = strdupa(arg);
			} else {
				next = strdupa(interp);
			}
			continue;
		}
		ret = elf_file__open(&ef, file);
		if (ret) {
			snprintf(err, err_len, "%s: %s", file,
				 ret == -ENOEXEC ? "not an ELF file or #! script" : strerror(-ret));
			return ret;
		}
		elf_file__for_each_needed(&ef, needed_cb, &nc);
		if (nc.name[0]) {
			ret = resolve_libpython("", file, &ef, nc.name, getenv("LD_LIBRARY_PATH"),
						path, path_len);
			elf_file__close(&ef);
			if (ret)
				snprintf(err, err_len, "%s needs %s, which was not found", file, nc.name);
			return ret;
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
