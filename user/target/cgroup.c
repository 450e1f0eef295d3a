// SPDX-License-Identifier: GPL-2.0
/*
 * --cgroup: a cgroup v2 directory, given as a path (absolute, or under the
 * cgroup2 mount) or as a container id its name holds, opened for the BPF
 * side's cgroup filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "target/cgroup.h"

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
