// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <stdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "clock.h"
#include "follow.h"
#include "log.h"
#include "target.h"

void follower__init(struct follower *f, struct tracer *t, const struct py_build_opts *opts)
{
	memset(f, 0, sizeof(*f));
	f->tracer = t;
	if (opts)
		f->build_opts = *opts;
}

void follower__free(struct follower *f)
{
	free(f->seen);
	memset(f, 0, sizeof(*f));
}

static struct seen_binary *find_seen(struct follower *f, const struct stat *st)
{
	int i;

	for (i = 0; i < f->nr_seen; i++)
		if (f->seen[i].dev == st->st_dev && f->seen[i].ino == st->st_ino)
			return &f->seen[i];
	return NULL;
}

static struct seen_binary *add_seen(struct follower *f, const struct stat *st, int build)
{
	if (f->nr_seen == f->cap_seen) {
		int cap = f->cap_seen ? 2 * f->cap_seen : 64;
		struct seen_binary *s = realloc(f->seen, cap * sizeof(*s));

		if (!s)
			return NULL;
		f->seen = s;
		f->cap_seen = cap;
	}
	f->seen[f->nr_seen] = (struct seen_binary){ st->st_dev, st->st_ino, build };
	return &f->seen[f->nr_seen++];
}

/*
 * Inspects pid's interpreter binary and arms it if it is new. exec_ts: when
 * the process exec'd (0 from a scan), for the exec-to-armed latency.
 */
static int add_pid(struct follower *f, pid_t pid, bool execed, __u64 exec_ts)
{
	struct seen_binary *seen;
	struct py_build b;
	struct target t;
	struct stat st;
	char err[512];
	int ret, idx, fd;

	ret = execed ? target__from_exec(&t, pid, err, sizeof(err))
		     : target__from_pid(&t, pid, err, sizeof(err));
	if (ret)
		return -1;	/* gone already, or a kernel thread */
	/* Hold the file: /proc/PID/root/... dies with a short-lived process,
	 * and the probes outlive it. */
	fd = open(t.elf_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((seen = find_seen(f, &st))) {
		close(fd);
		return seen->build;	/* armed already (for every process), or not Python */
	}
	snprintf(t.elf_path, sizeof(t.elf_path), "/proc/self/fd/%d", fd);
	ret = py_build__inspect(&b, t.elf_path, t.elf_display, &f->build_opts, err, sizeof(err));
	if (ret) {
		close(fd);
		/* Not Python is the common case and says nothing; a Python that
		 * cannot be traced is said once per binary. */
		if (ret != -ENOEXEC)
			p_debug("pid %d (%s) not traced: %s", pid, t.comm, err);
		add_seen(f, &st, -1);
		return -1;
	}
	idx = tracer__add_build(f->tracer, &b);
	ret = idx >= 0 ? tracer__attach(f->tracer, idx, -1) : idx;
	close(fd);	/* the probes hold the inode now */
	if (ret == 0) {
		f->nr_armed++;
		add_seen(f, &st, idx);
		if (exec_ts) {
			__u64 ns = mono_ns() - exec_ts;

			if (ns > f->max_arm_ns)
				f->max_arm_ns = ns;
			p_info("Armed %s (Python %s, %s) %.3f ms after pid %d exec'd it",
			       b.display_path, b.version, py_build__probe_name(b.probe), ns / 1e6,
			       pid);
		} else {
			p_debug("tracing %s (Python %s, %s), first seen in pid %d", b.display_path,
				b.version, py_build__probe_name(b.probe), pid);
		}
		return idx;
	}
	add_seen(f, &st, -1);	/* said why; do not retry for every process */
	return -1;
}

int follower__scan(struct follower *f)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int before = f->nr_armed;
	__u64 start = mono_ns();

	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		add_pid(f, atoi(de->d_name), false, 0);
	}
	closedir(proc);
	f->last_scan_ns = mono_ns() - start;
	p_debug("scanned /proc in %.3f ms", f->last_scan_ns / 1e6);
	return f->nr_armed - before;
}

bool follower__on_exec(struct follower *f, const struct gc_proc_event *e)
{
	int build = add_pid(f, e->pid, true, e->ts);

	if (e->stopped && kill(e->pid, SIGCONT) && errno != ESRCH)
		p_warn("cannot continue pid %d: %s", e->pid, strerror(errno));
	return build >= 0;
}
