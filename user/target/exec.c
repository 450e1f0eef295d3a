// SPDX-License-Identifier: GPL-2.0
/*
 * What exec would run, found the way the kernel and ld.so would: a command
 * through PATH and #! lines (also `#!/usr/bin/env python3`) to an ELF file,
 * and the DT_NEEDED libpython ld.so will load (DT_RPATH, LD_LIBRARY_PATH,
 * DT_RUNPATH, /etc/ld.so.conf.d and the default directories, inside the
 * process's root); the same for a process that has just called exec, before
 * ld.so mapped it. Nothing here runs the command.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include "elf/elf_file.h"
#include "target/rootfs.h"
#include "target/exec.h"

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

	if (!target__is_libpython(name))
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
	if (ret || target__is_libpython(t->elf_display))
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
