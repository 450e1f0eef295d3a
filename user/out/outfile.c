// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "util/log.h"
#include "out/outfile.h"

static const char *name_of(const struct outfile *o)
{
	return o->path ? o->path : "standard output";
}

/* Says the first error once; what to do depends on where the output goes. */
static int fail(struct outfile *o, int err)
{
	if (!o->err)
		o->err = err;
	if (!o->said) {
		o->said = 1;
		p_err("cannot write %s: %s%s", name_of(o), strerror(-o->err),
		      !o->path ? "" : o->err == -ENOSPC || o->err == -EDQUOT
		      ? "; free some space or give another -o FILE" : "; give another -o FILE");
	}
	return o->err;
}

/* The FILE's write: every short or failed write(2) is kept, with its errno. */
static ssize_t cookie_write(void *c, const char *buf, size_t len)
{
	struct outfile *o = c;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(o->fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!o->err)
				o->err = n < 0 ? -errno : -EIO;
			return done ? (ssize_t)done : -1;
		}
		done += n;
	}
	return done;
}

static int cookie_close(void *c)
{
	struct outfile *o = c;

	if (close(o->fd) && !o->err)
		o->err = -errno;
	o->fd = -1;
	return o->err ? -1 : 0;
}

static bool sticky_world_writable(const struct stat *dir)
{
	return S_ISDIR(dir->st_mode) && (dir->st_mode & S_ISVTX) && (dir->st_mode & S_IWOTH);
}

/* Neither the caller's nor the directory owner's, in a directory anyone can write. */
static bool planted(const struct stat *dir, const struct stat *st)
{
	return sticky_world_writable(dir) && st->st_uid != geteuid() && st->st_uid != dir->st_uid;
}

/*
 * Opens name in dfd (directory dst) for writing, creating it 0600. A
 * symlink is followed only if protected_symlinks would (its owner is the
 * caller or the directory's owner, or the directory is not sticky and
 * world-writable): checked on the link itself, and, since only its owner
 * can replace a link in a sticky directory, the check holds for the open.
 */
static int open_in(int dfd, const struct stat *dst, const char *name, const char *path,
		   bool *followed, bool *said)
{
	const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY;
	struct stat lst;
	int tries, fd;

	*followed = *said = false;
	for (tries = 0; tries < 4; tries++) {
		fd = openat(dfd, name, flags | O_NOFOLLOW, 0600);
		if (fd >= 0 || errno != ELOOP)
			return fd >= 0 ? fd : -errno;
		if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW)) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile: again */
			return -errno;
		}
		if (!S_ISLNK(lst.st_mode))
			continue;		/* replaced meanwhile: again */
		if (planted(dst, &lst)) {
			p_err("cannot write %s: refusing to follow a symlink owned by uid %u in a "
			      "sticky world-writable directory (the protected_symlinks rule); "
			      "remove it or give another -o FILE", path, (unsigned)lst.st_uid);
			*said = true;
			return -EPERM;
		}
		*followed = true;
		fd = openat(dfd, name, flags, 0600);
		return fd >= 0 ? fd : -errno;
	}
	return -ELOOP;
}

int outfile__open(struct outfile *o, const char *path)
{
	static const cookie_io_functions_t io = { .write = cookie_write, .close = cookie_close };
	char dir[PATH_MAX];
	const char *slash, *name;
	struct stat dst, st;
	bool followed, said;
	int dfd, fd;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	o->path = path;
	slash = strrchr(path, '/');
	name = slash ? slash + 1 : path;
	if (!*name) {
		p_err("cannot write %s: it names a directory; give a file", path);
		return -EISDIR;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
			     slash ? (slash == path ? "/" : path) : ".") >= sizeof(dir)) {
		p_err("cannot write %s: path too long", path);
		return -ENAMETOOLONG;
	}
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &dst)) {
		int err = -errno;

		p_err("cannot write %s: %s: %s", path, dir, strerror(-err));
		if (dfd >= 0)
			close(dfd);
		return err;
	}
	fd = open_in(dfd, &dst, name, path, &followed, &said);
	close(dfd);
	if (fd < 0) {
		if (!said)
			p_err("cannot write %s: %s", path, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st)) {
		int err = -errno;

		close(fd);
		p_err("cannot write %s: %s", path, strerror(-err));
		return err;
	}
	if (!followed && S_ISREG(st.st_mode) && planted(&dst, &st)) {
		close(fd);
		p_err("cannot write %s: it belongs to uid %u, in a sticky world-writable directory "
		      "(the protected_regular rule); remove it or give another -o FILE", path,
		      (unsigned)st.st_uid);
		return -EPERM;
	}
	/* "w": an existing file is emptied, and only now, once it is known to be ours. Not an
	 * empty one: on ext4 any truncation to 0 makes the close start writing back every
	 * page (auto_da_alloc), ~12% of gcbpf's CPU for a new file measured. */
	if (S_ISREG(st.st_mode) && st.st_size > 0 && ftruncate(fd, 0)) {
		int err = -errno;

		close(fd);
		p_err("cannot write %s: %s", path, strerror(-err));
		return err;
	}
	o->fd = fd;
	o->f = fopencookie(o, "w", io);
	if (!o->f) {
		close(fd);
		o->fd = -1;
		p_err("cannot write %s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	o->buf = malloc(OUTPUT_BUF_SIZE);
	if (o->buf)
		setvbuf(o->f, o->buf, _IOFBF, OUTPUT_BUF_SIZE);	/* else stdio's own, smaller */
	return 0;
}

int outfile__flush(struct outfile *o)
{
	int err;

	if (!o->f)
		return o->err;
	errno = 0;
	err = fflush(o->f) == EOF ? -(errno ? errno : EIO) : 0;
	if (o->err || err || ferror(o->f))
		return fail(o, o->err ? o->err : err ? err : -EIO);
	return 0;
}

int outfile__close(struct outfile *o)
{
	int err = outfile__flush(o);

	if (o->f && o->f != stdout) {
		if (fclose(o->f) && !err)
			err = fail(o, o->err ? o->err : -EIO);
		else if (o->err && !err)
			err = fail(o, o->err);
	}
	o->f = NULL;
	free(o->buf);	/* after fclose: stdio's until then */
	o->buf = NULL;
	return err;
}
