// SPDX-License-Identifier: GPL-2.0
/*
 * outfile: created 0600 under umask 000, an existing file emptied, write
 * errors (/dev/full) caught with their errno, a symlink followed where it
 * may be. The planted-symlink refusal needs two users: tests/test_errors.py.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "check.h"
#include "out/outfile.h"

int main(void)
{
	char dir[] = "/tmp/gcbpf-outfile-XXXXXX", path[256], link[256];
	struct outfile o;
	struct stat st;

	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(path, sizeof(path), "%s/out", dir);
	snprintf(link, sizeof(link), "%s/link", dir);

	umask(0);
	CHECK_EQ(outfile__open(&o, path), 0);
	fputs("hello\n", o.f);
	CHECK_EQ(outfile__close(&o), 0);
	CHECK(!stat(path, &st) && (st.st_mode & 07777) == 0600, "mode %o", st.st_mode & 07777);
	CHECK_EQ(st.st_size, 6);

	/* Emptied on open, as fopen "w" would. */
	CHECK_EQ(outfile__open(&o, path), 0);
	CHECK_EQ(outfile__close(&o), 0);
	CHECK(!stat(path, &st) && st.st_size == 0, "size %lld", (long long)st.st_size);

	/* A symlink of our own, in a directory that is not world-writable: followed. */
	CHECK_EQ(symlink(path, link), 0);
	CHECK_EQ(outfile__open(&o, link), 0);
	fputs("via link\n", o.f);
	CHECK_EQ(outfile__close(&o), 0);
	CHECK(!lstat(link, &st) && S_ISLNK(st.st_mode), "the link was replaced");
	CHECK(!stat(path, &st) && st.st_size == 9, "size %lld", (long long)st.st_size);

	/* Every write fails: the first error, with its errno, once. */
	CHECK_EQ(outfile__open(&o, "/dev/full"), 0);
	fputs("x\n", o.f);
	CHECK_EQ(outfile__flush(&o), -ENOSPC);
	CHECK_EQ(outfile__close(&o), -ENOSPC);

	CHECK(outfile__open(&o, "/nonexistent-dir/out") == -ENOENT, "missing directory");
	CHECK(outfile__open(&o, "/tmp/") == -EISDIR, "a directory");
	CHECK_EQ(outfile__open(&o, "-"), 0);
	CHECK(o.f == stdout, "'-' is stdout");
	CHECK_EQ(outfile__close(&o), 0);

	unlink(link);
	unlink(path);
	rmdir(dir);
	return check_done();
}
