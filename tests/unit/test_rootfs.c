// SPDX-License-Identifier: GPL-2.0
/* rootfs: opening a target's files inside its root; target's parsers of /proc text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "check.h"
#include "elf/debuginfo.h"
#include "fixture.h"
#include "target/rootfs.h"
#include "target/target.h"
#include "target/exec.h"

/* A container-like root: a library, symlinks that try to leave, a FIFO. */
static bool build_root(void)
{
	return fx_run("mkdir -p root/lib root/etc/ld.so.conf.d root/opt/lib root/usr/lib "
		      "outside && echo inside > root/lib/libpython3.11.so.1.0 && "
		      "echo outside > outside/libpython3.11.so.1.0 && "
		      "ln -s /lib/libpython3.11.so.1.0 root/opt/lib/abs.so && "
		      "ln -s ../../../outside/libpython3.11.so.1.0 root/opt/lib/dotdot.so && "
		      "ln -s /proc/self/root/etc/passwd root/opt/lib/magic.so && "
		      "ln -s /dev/zero root/opt/lib/zero.so && mkfifo root/opt/lib/fifo.so && "
		      "echo '/opt/lib # comment' > root/etc/ld.so.conf.d/opt.conf && "
		      "mkdir root/usr/lib/libpython3.12.so && "
		      "mkdir -p root/etc/ld.so.conf.d/x.conf");
}

static void read_back(int fd, const char *want)
{
	char buf[32] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	CHECK(n > 0, "read: %zd", n);
	buf[strcspn(buf, "\n")] = 0;
	CHECK_STR(buf, want);
	CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "O_NONBLOCK cleared");
	close(fd);
}

static void test_open(void)
{
	char err[512];
	int root = open(fx_path("root"), O_PATH | O_DIRECTORY), fd;

	if (!CHECK(root >= 0, "open the root"))
		return;
	fd = rootfs__open(root, "/lib/libpython3.11.so.1.0", err, sizeof(err));
	if (CHECK(fd >= 0, "plain file: %s", err))
		read_back(fd, "inside");
	/* An absolute symlink resolves inside the root, as the target sees it. */
	fd = rootfs__open(root, "/opt/lib/abs.so", err, sizeof(err));
	if (CHECK(fd >= 0, "absolute symlink: %s", err))
		read_back(fd, "inside");
	/* ".." stops at the root: outside/ is never reached. */
	fd = rootfs__open(root, "/opt/lib/dotdot.so", err, sizeof(err));
	CHECK_EQ(fd, -ENOENT);
	fd = rootfs__open(root, "/../../outside/libpython3.11.so.1.0", err, sizeof(err));
	CHECK_EQ(fd, -ENOENT);
	/* Magic links are not followed; inside the root /proc does not exist anyway. */
	fd = rootfs__open(root, "/opt/lib/magic.so", err, sizeof(err));
	CHECK(fd < 0, "magic link opened: %d", fd);
	fd = rootfs__open(AT_FDCWD, "/proc/self/exe", err, sizeof(err));
	CHECK(fd == -EPERM, "magic link in our own view: %d", fd);
	/* A FIFO (would block) and a directory: refused, with the reason. */
	fd = rootfs__open(root, "/opt/lib/fifo.so", err, sizeof(err));
	CHECK_EQ(fd, -EPERM);
	CHECK(strstr(err, "a FIFO") != NULL, "says why: %s", err);
	fd = rootfs__open(root, "/usr/lib/libpython3.12.so", err, sizeof(err));
	CHECK_EQ(fd, -EPERM);
	/* /dev/zero of the host: in the root there is none. */
	fd = rootfs__open(root, "/opt/lib/zero.so", err, sizeof(err));
	CHECK_EQ(fd, -ENOENT);
	fd = rootfs__open_link("/dev/zero", err, sizeof(err));
	CHECK_EQ(fd, -EPERM);
	CHECK(strstr(err, "character device") != NULL, "says why: %s", err);
	fd = rootfs__open_link("/proc/self/exe", err, sizeof(err));
	CHECK(fd >= 0, "kernel link: %s", err);
	if (fd >= 0)
		close(fd);
	close(root);
}

static void test_find_library(void)
{
	char out[256], err[512];
	int root = open(fx_path("root"), O_PATH | O_DIRECTORY), fd;

	if (!CHECK(root >= 0, "open the root"))
		return;
	/* Not in the system directories: through /etc/ld.so.conf.d inside the root. */
	fd = target__find_library(root, "/usr/bin/python3", NULL, false, "abs.so", NULL, out,
				  sizeof(out), err, sizeof(err));
	if (CHECK(fd >= 0, "ld.so.conf.d: %s", err)) {
		CHECK_STR(out, "/opt/lib/abs.so");
		read_back(fd, "inside");
	}
	/* $ORIGIN, and LD_LIBRARY_PATH before DT_RUNPATH. */
	fd = target__find_library(root, "/lib/python3", "$ORIGIN", true, "libpython3.11.so.1.0",
				  "/nowhere", out, sizeof(out), err, sizeof(err));
	if (CHECK(fd >= 0, "$ORIGIN: %s", err)) {
		CHECK_STR(out, "/lib/libpython3.11.so.1.0");
		close(fd);
	}
	/* A FIFO where ld.so would look: refused, the search ends there. */
	fd = target__find_library(root, "/usr/bin/python3", NULL, false, "fifo.so", "/opt/lib",
				  out, sizeof(out), err, sizeof(err));
	CHECK_EQ(fd, -EPERM);
	fd = target__find_library(root, "/usr/bin/python3", NULL, false, "dotdot.so", NULL, out,
				  sizeof(out), err, sizeof(err));
	CHECK_EQ(fd, -ENOENT);
	CHECK(strstr(err, "not found") != NULL, "says: %s", err);
	fd = target__find_library(root, "/x", NULL, false, "../etc/passwd", NULL, out,
				  sizeof(out), err, sizeof(err));
	CHECK_EQ(fd, -EINVAL);
	close(root);
}

static void test_maps(void)
{
	char l1[] = "7f0000000000-7f0000001000 r-xp 00001000 08:01 1234    "
		    "/usr/lib/libpython3.11.so.1.0\n";
	char l2[] = "7f0000000000-7f0000001000 r-xp 00000000 08:01 99 /tmp/a b/libpython.so (deleted)\n";
	char l3[] = "7ffd0000-7ffd1000 rw-p 00000000 00:00 0                          [stack]\n";
	char l4[] = "00400000-00401000 r-xp 00000000 00:00 0\n";
	char l5[] = "garbage /usr/lib/libpython3.11.so\n";
	char l6[] = "";
	char link[128];
	struct maps_line m;

	CHECK_EQ(target__parse_maps_line(l1, &m), 0);
	CHECK_STR(m.range, "7f0000000000-7f0000001000");
	CHECK_STR(m.path, "/usr/lib/libpython3.11.so.1.0");
	CHECK(!m.deleted, "not deleted");
	CHECK_EQ(target__parse_maps_line(l2, &m), 0);
	CHECK_STR(m.path, "/tmp/a b/libpython.so");
	CHECK(m.deleted, "deleted");
	CHECK_EQ(target__parse_maps_line(l3, &m), 0);
	CHECK(m.path == NULL, "[stack] is no file");
	CHECK_EQ(target__parse_maps_line(l4, &m), 0);
	CHECK(m.path == NULL, "anonymous");
	CHECK_STR(m.range, "00400000-00401000");
	target__map_file(link, sizeof(link), 7, m.start, m.end);
	CHECK_STR(link, "/proc/7/map_files/400000-401000");	/* no leading zeros */
	CHECK_EQ(target__parse_maps_line(l5, &m), -EINVAL);
	CHECK_EQ(target__parse_maps_line(l6, &m), -EINVAL);
}

/*
 * A libpython mapped below 0x10000000, where maps pads the range with zeros
 * and map_files does not: target__from_pid must find it by the kernel's name.
 */
static void test_low_libpython(void)
{
	const char *path = fx_path("libpython3.99.so.1.0");
	void *want = (void *)0x1000000, *at;
	struct target t;
	struct stat st, lst;
	char err[256];
	int fd;

	if (!fx_run("head -c 8192 /dev/zero > libpython3.99.so.1.0") ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		CHECK(0, "cannot make %s", path);
		return;
	}
	at = mmap(want, 8192, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
	if (at != want) {
		SKIP("cannot map at %p: %s", want, strerror(errno));
		close(fd);
		return;
	}
	CHECK_EQ(target__from_pid(&t, getpid(), err, sizeof(err)), 0);
	CHECK_STR(t.elf_display, path);
	CHECK(strstr(t.elf_path, "/map_files/1000000-1002000") != NULL, "map_files name %s",
	      t.elf_path);
	if (geteuid())	/* map_files links are CAP_SYS_ADMIN's */
		SKIP("not root: %s not opened", t.elf_path);
	else if (!fstat(fd, &st))
		CHECK(!stat(t.elf_path, &lst) && lst.st_ino == st.st_ino,
		      "%s opens the mapped file", t.elf_path);
	munmap(at, 8192);
	close(fd);
}

static void test_environ(void)
{
	static const char env[] = "A=1\0LD_LIBRARY_PATHX=no\0LD_LIBRARY_PATH=/opt/lib\0B=";

	CHECK_STR(target__env_lookup(env, sizeof(env), "LD_LIBRARY_PATH"), "/opt/lib");
	CHECK_STR(target__env_lookup(env, sizeof(env), "A"), "1");
	CHECK_STR(target__env_lookup(env, sizeof(env), "B"), "");
	CHECK(target__env_lookup(env, sizeof(env), "C") == NULL, "C");
	/* Cut off inside the value: not a value. */
	CHECK(target__env_lookup(env, sizeof(env) - 6, "LD_LIBRARY_PATH") == NULL, "cut");
}

static void test_shebang(void)
{
	char prog[64];

	CHECK_EQ(target__parse_shebang("#!/usr/bin/python3 -u\nx", 24, prog, sizeof(prog)), 1);
	CHECK_STR(prog, "/usr/bin/python3");
	CHECK_EQ(target__parse_shebang("#!/usr/bin/env -S python3 -u", 29, prog, sizeof(prog)),
		 1);
	CHECK_STR(prog, "python3");
	CHECK_EQ(target__parse_shebang("#!/usr/bin/env", 14, prog, sizeof(prog)), -ENOEXEC);
	CHECK_EQ(target__parse_shebang("#!  \n", 5, prog, sizeof(prog)), -ENOEXEC);
	CHECK_EQ(target__parse_shebang("\x7f" "ELF", 4, prog, sizeof(prog)), 0);
	/* n bounds the line even without a newline or NUL. */
	CHECK_EQ(target__parse_shebang("#!/bin/shXXXX", 9, prog, sizeof(prog)), 1);
	CHECK_STR(prog, "/bin/sh");
}

/*
 * Debug files are looked up inside the target's root: a build-id link that
 * is an absolute symlink to a host file (here: the real debug file, outside
 * the root) is not followed; the same file inside the root is found.
 */
static void test_debuginfo_in_root(void)
{
	char id[64], file[256], root[256];
	struct debuginfo di;
	struct elf_file ef;

	if (!CHECK(fx_run("echo 'int f(int x) { return x + 1; }' > lib.c && "
			  "cc -shared -fPIC -Wl,--build-id=sha1 -o full.so lib.c && "
			  "objcopy --only-keep-debug full.so full.debug && "
			  "strip --strip-all -o dbgroot.so full.so && "
			  "objcopy --add-gnu-debuglink=full.debug dbgroot.so && mkdir -p dbgroot/lib"),
		   "build the stripped library"))
		return;
	if (!CHECK_EQ(elf_file__open(&ef, fx_path("dbgroot.so")), 0))
		return;
	if (!CHECK_EQ(elf_file__build_id(&ef, id, sizeof(id)), 0))
		goto out;
	snprintf(root, sizeof(root), "%s", fx_path("dbgroot"));
	snprintf(file, sizeof(file), "dbgroot/usr/lib/debug/.build-id/%.2s", id);
	fx_run("mkdir -p %s && ln -s %s %s/%s.debug && ln -s %s dbgroot/lib/full.debug", file,
	       fx_path("full.debug"), file, id + 2, fx_path("full.debug"));
	CHECK_EQ(debuginfo__open(&di, &ef, root, "/lib/dbgroot.so"), -ENOENT);
	/* Inside the root: found, by build id first. */
	fx_run("cd dbgroot/usr/lib/debug/.build-id/%.2s && rm %s.debug && cp %s %s.debug", id,
	       id + 2, fx_path("full.debug"), id + 2);
	if (CHECK_EQ(debuginfo__open(&di, &ef, root, "/lib/dbgroot.so"), 0)) {
		CHECK_EQ(di.kind, DEBUGINFO_BUILD_ID);
		CHECK(strstr(di.path, "/usr/lib/debug/.build-id/") == di.path, "path %s", di.path);
		debuginfo__close(&di);
	}
	/* The debug link, next to the file inside the root. */
	fx_run("rm -r dbgroot/usr && rm dbgroot/lib/full.debug && cp full.debug dbgroot/lib/");
	if (CHECK_EQ(debuginfo__open(&di, &ef, root, "/lib/dbgroot.so"), 0)) {
		CHECK_EQ(di.kind, DEBUGINFO_DEBUGLINK);
		CHECK_STR(di.path, "/lib/full.debug");
		debuginfo__close(&di);
	}
out:
	elf_file__close(&ef);
}

int main(void)
{
	if (!fx_init())
		return 1;
	if (CHECK(build_root(), "building the root in %s", fx_dir)) {
		test_open();
		test_find_library();
	}
	test_debuginfo_in_root();
	test_maps();
	test_low_libpython();
	test_environ();
	test_shebang();
	fx_cleanup();
	return check_done();
}
