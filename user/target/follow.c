// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <glob.h>
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
#include "elf/elf_file.h"
#include "trace/clock.h"
#include "target/follow.h"
#include "util/log.h"
#include "target/rootfs.h"
#include "target/target.h"
#include "target/exec.h"

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
	free(f->known);
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
	f->seen[f->nr_seen] = (struct seen_binary){ st->st_dev, st->st_ino, build, mono_ns() };
	return &f->seen[f->nr_seen++];
}

/* The build id of the ELF file at path; false if it has none. */
static bool build_id_of(const char *path, char *id, size_t len)
{
	struct elf_file ef;
	bool ok;

	if (elf_file__open(&ef, path))
		return false;
	ok = !elf_file__build_id(&ef, id, len);
	elf_file__close(&ef);
	return ok;
}

/*
 * py_build__inspect, unless a file of the same content (build id and size)
 * was inspected before: its result then, for this file. *remember: call
 * remember_build once the build is the tracer's.
 */
static int inspect(struct follower *f, struct py_build *b, const char *path, const char *display,
		   const struct py_build_opts *opts, const struct stat *st, bool *remember,
		   char *err, size_t err_len)
{
	char id[80];
	int i, ret;

	*remember = false;
	if (f->nr_known && build_id_of(path, id, sizeof(id))) {
		for (i = 0; i < f->nr_known; i++) {
			const struct py_build *known;

			if (strcmp(f->known[i].id, id) || f->known[i].size != st->st_size)
				continue;
			known = tracer__build(f->tracer, f->known[i].build);
			*b = *known;
			snprintf(b->path, sizeof(b->path), "%s", path);
			snprintf(b->display_path, sizeof(b->display_path), "%s", display);
			if (known->symbols_from == known->debug_file)
				b->symbols_from = b->debug_file;
			b->dev = st->st_dev;
			b->ino = st->st_ino;
			p_debug("%s: the build of %s (build id %s), not inspected again", display,
				known->display_path, id);
			return 0;
		}
	}
	ret = py_build__inspect(b, path, display, opts, err, err_len);
	*remember = !ret;
	return ret;
}

static void remember_build(struct follower *f, const char *path, const struct stat *st, int build)
{
	struct known_build *k;

	if (f->nr_known == f->cap_known) {
		int cap = f->cap_known ? 2 * f->cap_known : 8;

		k = realloc(f->known, cap * sizeof(*k));
		if (!k)
			return;
		f->known = k;
		f->cap_known = cap;
	}
	k = &f->known[f->nr_known];
	if (!build_id_of(path, k->id, sizeof(k->id)))
		return;
	k->size = st->st_size;
	k->build = build;
	f->nr_known++;
}

/* Arming failed: said; a permission error ends the run, since every binary would fail. */
static void arm_failed(struct follower *f, int err, const char *why)
{
	p_err("%s", why);
	f->nr_failed++;
	if (!f->err || err == -EPERM || err == -EACCES)
		f->err = err;
}

/* The "Armed" line, and the exec-to-armed latency. */
static void armed(struct follower *f, const struct py_build *b, pid_t pid, __u64 exec_ts)
{
	if (exec_ts) {
		__u64 ns = mono_ns() - exec_ts;

		if (ns > f->max_arm_ns)
			f->max_arm_ns = ns;
		p_info("Armed %s (Python %s, %s) %.3f ms after pid %d exec'd it", b->display_path,
		       b->version, py_build__probe_name(b->probe), ns / 1e6, pid);
	} else {
		p_debug("tracing %s (Python %s, %s), first seen in pid %d", b->display_path,
			b->version, py_build__probe_name(b->probe), pid);
	}
}

/* Probes of build already in place for pid (for it, or for every process)? */
static bool attached_for(const struct follower *f, int build, pid_t pid)
{
	const struct tracer *t = f->tracer;
	int i;

	for (i = 0; i < t->attached.nr; i++)
		if (t->attached.items[i].build == build &&
		    (t->attached.items[i].pid == pid || t->attached.items[i].pid == -1))
			return true;
	return false;
}

/*
 * A process of a binary armed for every process: did it run before the
 * probes were in place? Exec'd before the arming, or found by the first
 * scan (gcbpf started after it), or by the scan that armed the binary.
 */
static bool ran_unarmed(const struct follower *f, const struct seen_binary *seen, bool execed,
			__u64 exec_ts)
{
	if (execed)
		return exec_ts < seen->armed_ns;
	return !f->nr_scans || seen->armed_ns >= f->scan_start_ns;
}

/*
 * Inspects pid's interpreter binary and arms it if it is new (per_pid: for
 * pid alone, also a binary armed before for another). exec_ts: when the
 * process exec'd (0 from a scan), for the exec-to-armed latency. Returns
 * the build index pid now runs, or -1 if it is not traced; before: the
 * collections pid ran before the probes were in place (NONE: none).
 */
static int add_pid(struct follower *f, pid_t pid, bool execed, __u64 exec_ts,
		   struct gc_counts *before)
{
	pid_t for_pid = f->per_pid ? pid : -1;
	struct seen_binary *seen;
	struct py_build_opts opts;
	struct py_build b;
	struct target t;
	struct stat st;
	char err[PATH_MAX + 512];
	bool remember;
	int ret, idx;

	memset(before, 0, sizeof(*before));
	ret = execed ? target__from_exec(&t, pid, err, sizeof(err))
		     : target__from_pid(&t, pid, err, sizeof(err));
	/* Hold the file and root: /proc/PID/... dies with a short-lived
	 * process, and the probes outlive it. */
	if (!ret)
		ret = target__hold(&t, err, sizeof(err));
	if (ret) {
		/* A file no one should have put there (a FIFO, a device): said, and
		 * skipped; else gone already, or a kernel thread. */
		if (ret == -EPERM && (stat(t.elf_path, &st) || !find_seen(f, &st))) {
			p_warn("pid %d (%s) not traced: %s", pid, t.comm, err);
			if (!stat(t.elf_path, &st))
				add_seen(f, &st, -1);	/* once, not every scan */
		} else if (ret == -EMFILE || ret == -ENFILE) {
			p_warn("cannot open %s of pid %d: %s", t.elf_display, pid, strerror(-ret));
		}
		target__release(&t);
		return -1;
	}
	if (fstat(t.fd, &st)) {
		target__release(&t);
		return -1;
	}
	if ((seen = find_seen(f, &st))) {
		target__release(&t);
		if (f->per_pid && seen->build < 0)
			p_warn("pid %d exec'd %s, which gcbpf cannot trace (not Python?): not traced "
			       "until it execs Python again", pid, t.elf_display);
		if (seen->build < 0)
			return -1;	/* not Python */
		if (!f->per_pid) {
			/* armed already, for every process */
			if (ran_unarmed(f, seen, execed, exec_ts))
				gc_state__read_counts(before, pid,
						      tracer__build(f->tracer, seen->build), execed);
			return seen->build;
		}
		if (attached_for(f, seen->build, pid))
			return seen->build;	/* its probes outlived the exec */
		ret = tracer__attach(f->tracer, seen->build, for_pid, err, sizeof(err));
		if (ret) {
			arm_failed(f, ret, err);
			return -1;
		}
		gc_state__read_counts(before, pid, tracer__build(f->tracer, seen->build), execed);
		armed(f, tracer__build(f->tracer, seen->build), pid, exec_ts);
		return seen->build;
	}
	opts = f->build_opts;
	opts.root = t.root;
	ret = inspect(f, &b, t.elf_path, t.elf_display, &opts, &st, &remember, err, sizeof(err));
	if (ret) {
		target__release(&t);
		/* Not Python is the common case and says nothing (but for a -p
		 * target); a Python that cannot be traced is said once per binary. */
		if (f->per_pid)
			p_warn("pid %d exec'd %s: not traced: %s", pid, t.elf_display, err);
		else if (ret == -EPERM)
			p_warn("pid %d (%s) not traced: %s", pid, t.comm, err);
		else if (ret != -ENOEXEC)
			p_debug("pid %d (%s) not traced: %s", pid, t.comm, err);
		add_seen(f, &st, -1);
		return -1;
	}
	idx = tracer__add_build(f->tracer, &b);
	if (idx >= 0 && remember)
		remember_build(f, t.elf_path, &st, idx);
	ret = idx >= 0 ? tracer__attach(f->tracer, idx, for_pid, err, sizeof(err)) : idx;
	target__release(&t);	/* the probes hold the inode now */
	if (ret == 0) {
		f->nr_armed++;
		add_seen(f, &st, idx);
		gc_state__read_counts(before, pid, tracer__build(f->tracer, idx), execed);
		armed(f, &b, pid, exec_ts);
		return idx;
	}
	if (idx < 0)
		snprintf(err, sizeof(err), "cannot trace %s: %s", b.display_path, strerror(-idx));
	arm_failed(f, ret, err);
	add_seen(f, &st, -1);	/* said why; do not retry for every process */
	return -1;
}

/*
 * Where interpreters are installed: the system's, /usr/local's, pyenv's
 * (root's, or $PYENV_ROOT's) and /opt/NAME's. Not every file a process
 * could run: those are armed at their exec, ms later.
 */
static const char *const prearm_globs[] = {
	"/usr/bin/python3*", "/usr/local/bin/python3*",
	"/usr/lib/*-linux-gnu/libpython3*.so*", "/usr/lib64/libpython3*.so*",
	"/usr/local/lib/libpython3*.so*",
	"/opt/*/bin/python3*", "/opt/*/lib/libpython3*.so*",
	"%s/versions/*/bin/python3*", "%s/versions/*/lib/libpython3*.so*",
};
#define PREARM_MAX 64		/* files looked at, at most */

/* One installed file: armed for every process, unless armed or known not to be Python. */
static bool prearm_file(struct follower *f, const char *path)
{
	struct py_build b;
	struct stat st;
	char err[PATH_MAX + 512], fd_path[32];
	bool remember, ok = false;
	int fd, idx;

	fd = rootfs__open(AT_FDCWD, path, err, sizeof(err));
	if (fd < 0)
		return false;
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) || find_seen(f, &st) ||
	    inspect(f, &b, fd_path, path, &f->build_opts, &st, &remember, err, sizeof(err))) {
		close(fd);
		return false;
	}
	idx = tracer__add_build(f->tracer, &b);
	if (idx >= 0 && remember)
		remember_build(f, fd_path, &st, idx);
	/* A failure is said, and counted, when a process runs the file. */
	if (idx >= 0 && !tracer__attach(f->tracer, idx, -1, err, sizeof(err))) {
		add_seen(f, &st, idx);
		f->nr_armed++;
		ok = true;
		p_debug("armed %s (Python %s, %s) before any process ran it", path, b.version,
			py_build__probe_name(b.probe));
	}
	close(fd);	/* the probes hold the inode now */
	return ok;
}

int follower__prearm(struct follower *f)
{
	const char *pyenv = getenv("PYENV_ROOT");
	__u64 start = mono_ns();
	int looked = 0;
	size_t i, k;

	if (!pyenv || pyenv[0] != '/')
		pyenv = "/root/.pyenv";
	for (i = 0; i < sizeof(prearm_globs) / sizeof(prearm_globs[0]); i++) {
		char pattern[PATH_MAX];
		glob_t g;

		snprintf(pattern, sizeof(pattern), prearm_globs[i], pyenv);
		if (glob(pattern, GLOB_NOSORT, NULL, &g))
			continue;
		for (k = 0; k < g.gl_pathc && looked < PREARM_MAX; k++) {
			const char *base = strrchr(g.gl_pathv[k], '/') + 1;

			/* python3.11-config and the like: scripts, not interpreters */
			if (strstr(base, "-config") || strstr(base, ".py"))
				continue;
			looked++;
			f->nr_prearmed += prearm_file(f, g.gl_pathv[k]);
		}
		globfree(&g);
	}
	p_debug("armed %d interpreter files of the usual locations (%d looked at) in %.3f ms",
		f->nr_prearmed, looked, (mono_ns() - start) / 1e6);
	return f->nr_prearmed;
}

int follower__scan(struct follower *f)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int before = f->nr_armed;
	__u64 start = mono_ns();

	if (!proc)
		return -errno;
	f->scan_start_ns = start;
	while ((de = readdir(proc))) {
		struct gc_counts ran;
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (add_pid(f, pid, false, 0, &ran) >= 0 && ran.state != GC_COUNTS_NONE &&
		    f->on_before)
			f->on_before(f->ctx, pid, &ran);
	}
	closedir(proc);
	f->nr_scans++;
	f->last_scan_ns = mono_ns() - start;
	p_debug("scanned /proc in %.3f ms", f->last_scan_ns / 1e6);
	return f->nr_armed - before;
}

bool follower__on_exec(struct follower *f, const struct gc_proc_event *e,
		       struct gc_counts *before)
{
	int build = add_pid(f, e->pid, true, e->ts, before);

	if (e->stopped)
		tracer__continue(f->tracer, e->pid);
	return build >= 0;
}
