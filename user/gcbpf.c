// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf: trace every CPython garbage collection with eBPF.
 * main(): options, then resolve -> load -> attach -> poll -> summary.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "output.h"
#include "py_build.h"
#include "stats.h"
#include "target.h"
#include "tracer.h"

#define MAX_TARGETS 64

static struct env {
	pid_t pids[MAX_TARGETS];
	int nr_pids;
	long duration_s;
	enum output_format format;
	const char *output_path;
	bool list_only;
	bool force_uprobe;
	bool empty_probes;
	char **cmd;		/* after -- */
} env = {
	.format = OUTPUT_TEXT,
};

const char *argp_program_version = "gcbpf 0.1";
const char *argp_program_bug_address = "the gcbpf issue tracker";
static const char doc[] =
	"Trace every CPython garbage collection: generation, pause, collected and "
	"uncollectable objects.\n"
	"\n"
	"USAGE: gcbpf [OPTIONS] -p PID[,PID...]\n"
	"       gcbpf [OPTIONS] -- CMD [ARGS...]\n"
	"\v"
	"Examples:\n"
	"  gcbpf -p 1234                      # live pauses of PID 1234, summary on Ctrl-C\n"
	"  gcbpf -p 1234,1240 -d 60           # two processes for one minute\n"
	"  gcbpf -f jsonl -o gc.jsonl -p 1234 # one JSON object per collection\n"
	"  gcbpf -- python3 app.py            # run app.py and trace it from its start\n"
	"  gcbpf --list -p 1234               # which binary, version and probe; no tracing\n";

enum {
	OPT_LIST = 0x100,
	OPT_UPROBE,
	OPT_EMPTY_PROBES,
};

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "Trace these processes", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS", 0 },
	{ "format", 'f', "FORMAT", 0, "Event output: text (default) or jsonl", 0 },
	{ "output", 'o', "FILE", 0, "Write events to FILE ('-' for stdout)", 0 },
	{ "quiet", 'q', NULL, 0, "No per-event output: only the summary at exit", 0 },
	{ "list", OPT_LIST, NULL, 0,
	  "Print each target's binary, Python version and probe path, then exit", 0 },
	{ "uprobe", OPT_UPROBE, NULL, 0, "Use uprobes on the collector even where USDT exists", 0 },
	{ "empty-probes", OPT_EMPTY_PROBES, NULL, 0,
	  "Attach probes that do nothing (benchmark floor)", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output (libbpf included)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static int parse_pids(char *arg, struct argp_state *state)
{
	char *tok, *save = NULL, *end;

	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long pid;

		errno = 0;
		pid = strtol(tok, &end, 10);
		if (errno || *end || pid <= 0 || pid > 0x3fffffff) {
			p_err("invalid PID '%s': expected a positive number", tok);
			argp_usage(state);
		}
		if (env.nr_pids == MAX_TARGETS) {
			p_err("too many PIDs: at most %d", MAX_TARGETS);
			argp_usage(state);
		}
		env.pids[env.nr_pids++] = pid;
	}
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'p':
		return parse_pids(arg, state);
	case 'd':
		errno = 0;
		env.duration_s = strtol(arg, &end, 10);
		if (errno || *end || env.duration_s <= 0) {
			p_err("invalid duration '%s': expected whole seconds > 0", arg);
			argp_usage(state);
		}
		break;
	case 'f':
		if (output__parse_format(arg, &env.format)) {
			p_err("unknown format '%s': expected text or jsonl", arg);
			argp_usage(state);
		}
		break;
	case 'o':
		env.output_path = arg;
		break;
	case 'q':
		env.format = OUTPUT_NONE;
		break;
	case OPT_LIST:
		env.list_only = true;
		break;
	case OPT_UPROBE:
		env.force_uprobe = true;
		break;
	case OPT_EMPTY_PROBES:
		env.empty_probes = true;
		break;
	case 'v':
		log_verbose = true;
		break;
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		/* Everything from the first positional on is the command. */
		env.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (env.cmd && env.nr_pids) {
			p_err("-p and a command are exclusive: trace either running processes or CMD");
			argp_usage(state);
		}
		if (!env.cmd && !env.nr_pids) {
			p_err("no target: give -p PID or -- CMD (system-wide tracing is not "
			      "available yet)");
			argp_usage(state);
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

struct session {
	struct tracer tracer;
	struct output out;
	struct stats stats;
	struct target targets[MAX_TARGETS];
	int nr_targets;
	pid_t child;		/* launch mode */
	int child_gate;		/* write end of the pipe the child waits on */
};

static void on_event(void *ctx, const struct gc_event *e)
{
	struct session *s = ctx;

	stats__add(&s->stats, e);
	output__event(&s->out, e, tracer__build(&s->tracer, e->binary));
}

static void on_batch(void *ctx)
{
	struct session *s = ctx;

	output__flush(&s->out);
}

/* Fork CMD, held before exec until the probes are attached. */
static int launch_child(struct session *s)
{
	int gate[2];

	if (pipe2(gate, O_CLOEXEC)) {
		p_err("cannot create a pipe: %s", strerror(errno));
		return -errno;
	}
	s->child = fork();
	if (s->child < 0) {
		p_err("cannot fork: %s", strerror(errno));
		return -errno;
	}
	if (s->child == 0) {
		char c;

		close(gate[1]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/* EOF without a byte: gcbpf gave up; do not run the command. */
		if (read(gate[0], &c, 1) != 1)
			_exit(127);
		execvp(env.cmd[0], env.cmd);
		fprintf(stderr, "gcbpf: cannot run %s: %s\n", env.cmd[0], strerror(errno));
		_exit(127);
	}
	close(gate[0]);
	s->child_gate = gate[1];
	return 0;
}

static void release_child(struct session *s)
{
	if (s->child_gate > 0) {
		if (write(s->child_gate, "g", 1) != 1)
			p_warn("cannot release the child: %s", strerror(errno));
		close(s->child_gate);
		s->child_gate = -1;
	}
}

/* Resolves targets and their builds; with --list prints them. */
static int resolve_targets(struct session *s, struct py_build *builds)
{
	struct py_build_opts bopts = { .force_uprobe = env.force_uprobe };
	char err[512];
	int i, ret;

	if (env.cmd) {
		struct target *t = &s->targets[s->nr_targets++];

		memset(t, 0, sizeof(*t));
		t->pid = s->child;
		snprintf(t->comm, sizeof(t->comm), "%s", env.cmd[0]);
		ret = target__resolve_command(env.cmd[0], t->elf_path, sizeof(t->elf_path), err,
					      sizeof(err));
		if (ret) {
			p_err("%s", err);
			return ret;
		}
		memcpy(t->elf_display, t->elf_path, sizeof(t->elf_display));
	} else {
		for (i = 0; i < env.nr_pids; i++) {
			ret = target__from_pid(&s->targets[s->nr_targets], env.pids[i], err,
					       sizeof(err));
			if (ret) {
				p_err("%s", err);
				return ret;
			}
			s->nr_targets++;
		}
	}
	for (i = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		ret = py_build__inspect(&builds[i], t->elf_path, t->elf_display, &bopts, err,
					sizeof(err));
		if (ret) {
			if (ret == -ENOEXEC && !env.cmd)
				p_err("pid %d (%s) is not Python: %s", t->pid, t->comm, err);
			else if (ret == -ENOEXEC)
				p_err("%s does not run Python directly: %s (give the interpreter's "
				      "path, not a wrapper)", env.cmd[0], err);
			else
				p_err("%s", err);
			return ret;
		}
		if (env.list_only)
			printf("pid %d (%s): %s, Python %s%s (version from %s), probe %s: %s\n",
			       t->pid, t->comm, builds[i].display_path, builds[i].version,
			       builds[i].debug ? " debug" : "", builds[i].version_source,
			       py_build__probe_name(builds[i].probe), builds[i].why);
	}
	return 0;
}

static int attach_targets(struct session *s, struct py_build *builds)
{
	int i, idx, ret;

	for (i = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		idx = tracer__add_build(&s->tracer, &builds[i]);
		if (idx < 0) {
			p_err("cannot register %s: %s", builds[i].display_path, strerror(-idx));
			return idx;
		}
		t->build = idx;
		ret = tracer__attach(&s->tracer, idx, t->pid);
		if (ret)
			return ret;
		if (!env.cmd && !target__alive(t)) {
			p_err("pid %d (%s) exited while gcbpf was attaching", t->pid, t->comm);
			return -ESRCH;
		}
	}
	return 0;
}

static void print_banner(struct session *s, struct py_build *builds)
{
	const struct py_build *b = &builds[0];

	if (env.cmd)
		fprintf(stderr, "Tracing CPython GC in %s (pid %d; %s, Python %s, %s)... "
			"Hit Ctrl-C to end.\n", env.cmd[0], s->child, b->display_path, b->version,
			py_build__probe_name(b->probe));
	else if (s->nr_targets == 1)
		fprintf(stderr, "Tracing CPython GC in PID %d (%s, Python %s, %s)... "
			"Hit Ctrl-C to end.\n", s->targets[0].pid, b->display_path, b->version,
			py_build__probe_name(b->probe));
	else
		fprintf(stderr, "Tracing CPython GC in %d processes... Hit Ctrl-C to end.\n",
			s->nr_targets);
}

/* True once nothing is left to trace. */
static bool targets_done(struct session *s, int *child_status)
{
	int i, alive = 0;

	if (env.cmd) {
		int status;
		pid_t r = waitpid(s->child, &status, WNOHANG);

		if (r == s->child) {
			*child_status = WIFEXITED(status) ? WEXITSTATUS(status)
							  : 128 + WTERMSIG(status);
			s->child = 0;
			return true;
		}
		return false;
	}
	for (i = 0; i < s->nr_targets; i++) {
		struct target *t = &s->targets[i];

		if (!t->exited && !target__alive(t)) {
			t->exited = true;
			p_debug("pid %d (%s) exited", t->pid, t->comm);
		}
		alive += !t->exited;
	}
	return alive == 0;
}

static void warn_losses(struct session *s, __u64 *seen_lost)
{
	__u64 c[GC_CNT_MAX];

	tracer__counters(&s->tracer, c);
	if (c[GC_CNT_LOST] > *seen_lost) {
		p_warn("%llu events lost: the ring buffer was full (totals at exit stay exact "
		       "for what was seen; lower the event rate with a filter)",
		       (unsigned long long)(c[GC_CNT_LOST] - *seen_lost));
		*seen_lost = c[GC_CNT_LOST];
	}
}

static int run(struct session *s, int *exit_code)
{
	struct timespec start, now;
	__u64 seen_lost = 0;
	int child_status = 0, ticks = 0, err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exiting) {
		err = tracer__poll(&s->tracer, 100);
		if (err < 0) {
			p_err("reading events failed: %s", strerror(-err));
			return err;
		}
		if (targets_done(s, &child_status))
			break;
		if (env.duration_s) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec >= env.duration_s)
				break;
		}
		if (++ticks % 10 == 0)
			warn_losses(s, &seen_lost);
	}
	tracer__drain(&s->tracer);
	warn_losses(s, &seen_lost);
	if (env.cmd)
		*exit_code = child_status;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, "[-- CMD [ARGS...]]", doc, NULL, NULL,
					  NULL };
	static struct session s;
	static struct py_build builds[MAX_TARGETS];
	struct tracer_opts topts = { .on_event = on_event, .on_batch = on_batch,
				   .ctx = &s };
	FILE *out = stdout;
	__u64 counters[GC_CNT_MAX];
	int err, exit_code = 0;

	err = argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (err)
		return 2;
	s.child_gate = -1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (env.cmd && !env.list_only && (err = launch_child(&s)))
		return 1;
	err = resolve_targets(&s, builds);
	if (err || env.list_only)
		goto cleanup;

	if (env.output_path && strcmp(env.output_path, "-")) {
		out = fopen(env.output_path, "we");
		if (!out) {
			err = -errno;
			p_err("cannot write %s: %s", env.output_path, strerror(errno));
			goto cleanup;
		}
	}
	/* The human summary goes where the events do not. */
	output__init(&s.out, env.format, out,
		     env.format != OUTPUT_JSONL ? out : out == stdout ? stderr : stdout);
	topts.empty_probes = env.empty_probes;
	err = tracer__open(&s.tracer, &topts);
	if (err)
		goto cleanup;
	err = attach_targets(&s, builds);
	if (err)
		goto cleanup;
	print_banner(&s, builds);
	release_child(&s);
	err = run(&s, &exit_code);
	tracer__counters(&s.tracer, counters);
	output__summary(&s.out, &s.stats, counters);
	if (counters[GC_CNT_LOST])
		p_warn("%llu events lost in total (ring buffer full)",
		       (unsigned long long)counters[GC_CNT_LOST]);

cleanup:
	if (s.child > 0 && s.child_gate >= 0) {
		/* Never started: closing the gate makes it exit without running CMD. */
		close(s.child_gate);
		waitpid(s.child, NULL, 0);
	} else if (s.child > 0 && err) {
		kill(s.child, SIGTERM);
		waitpid(s.child, NULL, 0);
	} else if (s.child > 0) {
		/* Stopped by Ctrl-C or -d: the child got the signal too; report its status. */
		int status;

		if (waitpid(s.child, &status, 0) == s.child)
			exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	tracer__close(&s.tracer);
	stats__free(&s.stats);
	if (out && out != stdout)
		fclose(out);
	if (err)
		return 1;
	return exit_code;
}
