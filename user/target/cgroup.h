/* SPDX-License-Identifier: GPL-2.0 */
/* --cgroup: the cgroup v2 directory whose tasks are traced. */
#ifndef GCBPF_CGROUP_H
#define GCBPF_CGROUP_H

#include <stddef.h>

/*
 * --cgroup: an fd of a cgroup v2 directory (a path, absolute or under
 * /sys/fs/cgroup) or of the one whose name holds a container id.
 * Returns the fd, or -errno with a reason in err.
 */
int target__open_cgroup(const char *arg, char *err, size_t err_len);

#endif
