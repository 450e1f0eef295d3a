// SPDX-License-Identifier: GPL-2.0
/*
 * The targets of a run: the processes of -p, each resolved to its binary
 * and inspected (a -p target that cannot be traced is skipped with a
 * warning when there are others), or the interpreter a command will run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "util/log.h"
#include "target/exec.h"
#include "trace/session_state.h"

/*
 * A -p target that cannot be traced: with several, the others are traced
 * and this one is warned about (--strict: an error). Returns 0 to go on.
 */
static int skip_pid(struct session *s, int ret, const char *why)
{
	if (s->opt->mode != MODE_PIDS || s->opt->nr_pids == 1 || s->opt->strict) {
		p_err("%s", why);
		return ret;
	}
	p_warn("%s; tracing the other processes (--strict makes this an error)", why);
	return 0;
}

/* The targets of -p, or the interpreter a command will run; said on failure. */
int session__resolve_targets(struct session *s)
{
	const struct options *opt = s->opt;
	struct py_build_opts bopts = { .force_uprobe = opt->force_uprobe };
	char err[512], why[700];
	int i, n, ret;

	if (opt->cmd) {
		struct target *t = &s->targets[s->nr_targets++];

		memset(t, 0, sizeof(*t));
		t->pid = s->child.pid;
		snprintf(t->comm, sizeof(t->comm), "%s", opt->cmd[0]);
		ret = target__resolve_command(opt->cmd[0], t->elf_path, sizeof(t->elf_path), err,
					      sizeof(err));
		if (ret) {
			p_err("%s", err);
			return ret;
		}
		memcpy(t->elf_display, t->elf_path, sizeof(t->elf_display));
	} else {
		for (i = 0; i < opt->nr_pids; i++) {
			ret = target__from_pid(&s->targets[s->nr_targets], opt->pids[i], err,
					       sizeof(err));
			if (!ret)
				s->nr_targets++;
			else if ((ret = skip_pid(s, ret, err)))
				return ret;
		}
	}
	for (i = n = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		ret = py_build__inspect(&s->builds[n], t->elf_path, t->elf_display, &bopts, err,
					sizeof(err));
		if (!ret) {
			s->targets[n++] = *t;
			continue;
		}
		if (ret == -ENOEXEC && !opt->cmd)
			snprintf(why, sizeof(why), "pid %d (%s) is not Python: %s", t->pid, t->comm,
				 err);
		else if (ret == -ENOEXEC)
			snprintf(why, sizeof(why), "%s does not run Python directly: %s (give the "
				 "interpreter's path, not a wrapper)", opt->cmd[0], err);
		else
			snprintf(why, sizeof(why), "%s", err);
		if ((ret = skip_pid(s, ret, why)))
			return ret;
	}
	s->nr_targets = n;
	if (!n) {
		p_err("none of the processes given with -p can be traced (said why above)");
		return -ESRCH;
	}
	return 0;
}
