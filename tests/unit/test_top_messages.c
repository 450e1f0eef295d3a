// SPDX-License-Identifier: GPL-2.0
/*
 * top_messages and the log hook: what p_info/p_warn say while top owns the
 * screen is kept, not written; at the end every kept line comes out in
 * order, and the ones not kept are counted in a first line.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "check.h"
#include "out/top_messages.h"
#include "util/log.h"

static void hook(void *ctx, const char *line)
{
	top_messages__add(ctx, line);
}

/* f's whole text (f rewound). */
static char *slurp(FILE *f)
{
	static char buf[64 * 1024];
	size_t n;

	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	return buf;
}

int main(void)
{
	static struct top_messages m;
	char want[64], *text;
	FILE *f = tmpfile();
	int i, status;
	pid_t child;

	if (!f)
		return 1;
	CHECK(!top_messages__newest(&m), "nothing said yet");
	CHECK_EQ(top_messages__lines(&m), 0);
	log__capture(hook, &m);
	p_info("Armed /usr/bin/python3 after pid %d exec'd it", 42);
	p_warn("a \x1b[2Jcontrol%s", "\n");
	CHECK_EQ(m.nr, 2);
	CHECK_STR(top_messages__newest(&m)->text, "gcbpf: warning: a \\x1b[2Jcontrol");
	CHECK_EQ(top_messages__lines(&m), 2);
	/* a fork child (the watchdog) writes to its stderr: caught here in a pipe */
	fflush(NULL);
	child = fork();
	if (child == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		p_warn("from the child");
		_exit(m.nr == 2 ? 0 : 1);
	}
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "a child's message went to the hook");
	log__capture(NULL, NULL);
	top_messages__flush(&m, f);
	text = slurp(f);
	CHECK(strstr(text, " Armed /usr/bin/python3 after pid 42 exec'd it\n") &&
	      strstr(text, " gcbpf: warning: a \\x1b[2Jcontrol\n") &&
	      strstr(text, "Armed") < strstr(text, "warning"), "flushed in order: %s", text);
	CHECK(!strstr(text, "not repeated"), "nothing dropped: %s", text);
	CHECK_EQ(m.nr, 0);

	/* more than are kept: the oldest are counted, the newest come out */
	f = freopen(NULL, "w+", f);
	for (i = 0; i < TOP_MESSAGES_KEPT + 5; i++) {
		snprintf(want, sizeof(want), "message %d", i);
		top_messages__add(&m, want);
	}
	top_messages__flush(&m, f);
	text = slurp(f);
	snprintf(want, sizeof(want), "gcbpf: 5 of the %d messages", TOP_MESSAGES_KEPT + 5);
	CHECK(!strncmp(text, want, strlen(want)), "%s", text);
	CHECK(!strstr(text, " message 4\n") && strstr(text, " message 5\n") &&
	      strstr(text, " message 260\n"), "the newest kept");
	fclose(f);
	return check_done();
}
