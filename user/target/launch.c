// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "target/launch.h"
#include "util/log.h"

int launch__start(struct launch *l, char *const *cmd)
{
	int gate[2];

	l->pid = 0;
	l->gate = -1;
	l->exit_code = 0;
	if (pipe2(gate, O_CLOEXEC)) {
		p_err("cannot create a pipe: %s", strerror(errno));
		return -errno;
	}
	l->pid = fork();
	if (l->pid < 0) {
		int err = -errno;

		p_err("cannot fork: %s", strerror(errno));
		close(gate[0]);
		close(gate[1]);
		l->pid = 0;
		return err;
	}
	if (l->pid == 0) {
		char c;

		close(gate[1]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/* EOF without a byte: gcbpf gave up; do not run the command. */
		if (read(gate[0], &c, 1) != 1)
			_exit(127);
		execvp(cmd[0], cmd);
		p_err("cannot run %s: %s", cmd[0], strerror(errno));
		_exit(127);
	}
	close(gate[0]);
	l->gate = gate[1];
	return 0;
}

void launch__release(struct launch *l)
{
	if (l->gate < 0)
		return;
	if (write(l->gate, "g", 1) != 1)
		p_warn("cannot release the command: %s", strerror(errno));
	close(l->gate);
	l->gate = -1;
}

bool launch__reap(struct launch *l, bool wait)
{
	int status;
	pid_t r;

	if (l->pid <= 0)
		return true;
	r = waitpid(l->pid, &status, wait ? 0 : WNOHANG);
	if (r != l->pid)
		return r < 0 && errno == ECHILD;
	l->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	l->pid = 0;
	return true;
}

void launch__abort(struct launch *l)
{
	if (l->pid <= 0)
		return;
	if (l->gate >= 0) {
		/* Never released: closing the gate makes it exit without running CMD. */
		close(l->gate);
		l->gate = -1;
	} else {
		kill(l->pid, SIGTERM);
	}
	launch__reap(l, true);
}
