// SPDX-License-Identifier: GPL-2.0
/*
 * The modes that trace nothing: --list (each target's binary, version and
 * probe path; with no target, every Python process on the host) and
 * --bpftrace (a bpftrace one-liner per target).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "out/out_bpftrace.h"
#include "target/identity.h"
#include "util/log.h"
#include "util/text.h"
#include "util/vec.h"
#include "trace/session_state.h"

/* A binary already inspected by --list without a target. */
struct listed_binary {
	dev_t dev;
	ino_t ino;
	int build;		/* index in builds, -1: not a Python gcbpf can trace */
};

/*
 * --list with no target: every Python process on the host, with who it is,
 * its binary, version and probe path. Each binary is inspected once.
 */
static int list_host(struct session *s)
{
	struct py_build_opts bopts = { .force_uprobe = s->opt->force_uprobe };
	VEC(struct listed_binary) seen = {};
	VEC(struct py_build) builds = {};
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int nr = 0, i;

	if (!proc) {
		p_err("cannot list /proc: %s", strerror(errno));
		return 1;
	}
	while ((de = readdir(proc))) {
		struct listed_binary *lb = NULL;
		struct identity id;
		struct target t;
		struct stat st;
		char err[512], who[4 * IDENTITY_NAME_LEN + 1];

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    target__from_pid(&t, atoi(de->d_name), err, sizeof(err)) ||
		    stat(t.elf_path, &st))
			continue;
		for (i = 0; i < seen.nr && !lb; i++)
			if (seen.items[i].dev == st.st_dev && seen.items[i].ino == st.st_ino)
				lb = &seen.items[i];
		if (!lb && (lb = vec_push(&seen))) {
			struct py_build *b = vec_push(&builds);

			*lb = (struct listed_binary){ st.st_dev, st.st_ino, -1 };
			if (b && !py_build__inspect(b, t.elf_path, t.elf_display, &bopts, err,
						    sizeof(err)))
				lb->build = builds.nr - 1;
			else if (b)
				builds.nr--;
		}
		if (!lb || lb->build < 0)
			continue;
		identity__read(&id, t.pid, t.comm, s->opt->hide_args, s->opt->match);
		if (!id.matched)
			continue;
		if (!nr++)
			printf("%-7s %-15s %-24s %-8s %-6s %s\n", "PID", "COMM", "SERVICE", "PYTHON",
			       "PROBE", "BINARY");
		text__escape(who, sizeof(who), id.short_cmd, sizeof(id.short_cmd));
		printf("%-7d %-15s %-24.24s %-8s %-6s %s  [%s]\n", t.pid, t.comm, id.service,
		       builds.items[lb->build].version,
		       py_build__probe_name(builds.items[lb->build].probe),
		       builds.items[lb->build].display_path, who);
	}
	closedir(proc);
	if (!nr)
		printf("(no Python processes)\n");
	vec_free(&seen);
	vec_free(&builds);
	return fflush(stdout) ? 1 : 0;
}

/* --list: each target's binary, version and probe path, and why. */
int session__list(struct session *s)
{
	int i, err;

	if (!s->opt->cmd && !s->opt->nr_pids)
		return list_host(s);
	err = session__resolve_targets(s);

	for (i = 0; !err && i < s->nr_targets; i++) {
		const struct py_build *b = &s->builds[i];

		if (s->opt->cmd)
			printf("%s: ", s->opt->cmd[0]);
		else
			printf("pid %d (%s): ", s->targets[i].pid, s->targets[i].comm);
		printf("%s, Python %s%s (version from %s), probe %s: %s\n", b->display_path,
		       b->version, b->debug ? " debug" : "", b->version_source,
		       py_build__probe_name(b->probe), b->why);
	}
	return err || fflush(stdout) ? 1 : 0;
}

/* --bpftrace: a one-liner per target, with the path the host sees. */
int session__oneliner(struct session *s)
{
	int i, err = session__resolve_targets(s);

	for (i = 0; !err && i < s->nr_targets; i++) {
		const struct py_build *b = &s->builds[i];
		const char *path = b->display_path;
		struct stat st;

		/* The target's own path, unless it lives in another root. */
		if (stat(path, &st) || st.st_dev != b->dev || st.st_ino != b->ino)
			path = b->path;
		oneliner__print(stdout, b, path, s->opt->cmd ? 0 : s->targets[i].pid, s->opt->cmd);
	}
	return err || fflush(stdout) ? 1 : 0;
}
