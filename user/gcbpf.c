// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf: trace every CPython garbage collection with eBPF.
 * main(): options, then resolve -> load -> attach -> poll -> summary.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "agg.h"
#include "clock.h"
#include "log.h"
#include "out_bpftrace.h"
#include "output.h"
#include "out_prometheus.h"
#include "py_build.h"
#include "report.h"
#include "stats.h"
#include "target.h"
#include "tracer.h"
#include "follow.h"
#include "launch.h"

#define MAX_TARGETS 64
#define RESCAN_S 5	/* system-wide: look for newly mapped libpythons this often */

static struct env {
	pid_t pids[MAX_TARGETS];
	int nr_pids;
	long duration_s;
	enum output_format format;
	const char *output_path;
	bool list_only;
	bool force_uprobe;
	enum tracer_programs programs;
	bool stats;		/* --stats */
	long interval_s;	/* -i: report every SECONDS */
	enum table_format table;
	enum hist_mode hist;
	__u64 min_ns;		/* --min-ms */
	const char *prometheus;	/* --prometheus [ADDR:]PORT */
	bool bpftrace;		/* --bpftrace: print a one-liner, trace nothing */
	bool all;		/* -a: every Python process, also those started later */
	const char *comm;	/* --comm */
	const char *cgroup;	/* --cgroup PATH or container id */
	int gen;		/* --gen, -1: all */
	char **cmd;		/* after -- */
} env = {
	.format = OUTPUT_TEXT,
	.gen = -1,
};

/* Exported processes that exited are dropped this long after (one scrape interval). */
#define PROM_EXPIRE_S 60.0

/* Kernel-side aggregation: every pause counted, whatever reaches user space.
 * -q needs nothing else: no event per collection is made then. */
static bool aggregating(void)
{
	return env.stats || env.hist != HIST_NONE || env.prometheus || env.min_ns ||
	       env.format == OUTPUT_NONE;
}

const char *argp_program_version = "gcbpf 0.1";
const char *argp_program_bug_address = "the gcbpf issue tracker";
static const char doc[] =
	"Trace every CPython garbage collection: generation, pause, collected and "
	"uncollectable objects.\n"
	"\n"
	"USAGE: gcbpf [OPTIONS]                   every Python process, also later ones\n"
	"       gcbpf [OPTIONS] -p PID[,PID...]\n"
	"       gcbpf [OPTIONS] -- CMD [ARGS...]   CMD and every process it starts\n"
	"\v"
	"Examples:\n"
	"  gcbpf                              # every Python process on the host\n"
	"  gcbpf --comm celery --min-ms 10    # celery's pauses of 10 ms or more\n"
	"  gcbpf -p 1234                      # live pauses of PID 1234, summary on Ctrl-C\n"
	"  gcbpf -p 1234,1240 -d 60           # two processes for one minute\n"
	"  gcbpf -f jsonl -o gc.jsonl -p 1234 # one JSON object per collection\n"
	"  gcbpf -- python3 app.py            # run app.py and trace it from its start\n"
	"  gcbpf --list -p 1234               # which binary, version and probe; no tracing\n"
	"  gcbpf --stats --hist -q -p 1234    # percentiles and log2 histograms at exit\n"
	"  gcbpf --stats -i 10 -q -p 1234     # the same every 10 seconds\n"
	"  gcbpf --min-ms 5 -p 1234           # only pauses of 5 ms or more, as they happen\n"
	"  gcbpf -f chrome -o gc.json -p 1234 # a trace for ui.perfetto.dev\n"
	"  gcbpf --prometheus 9464 -q -p 1234 # serve http://127.0.0.1:9464/metrics\n"
	"  gcbpf --bpftrace -p 1234           # print a bpftrace one-liner for this target\n";

enum {
	OPT_LIST = 0x100,
	OPT_UPROBE,
	OPT_EMPTY_PROBES,
	OPT_CLOCK_PROBES,
	OPT_STATS,
	OPT_TABLE_FORMAT,
	OPT_HIST,
	OPT_MIN_MS,
	OPT_PROMETHEUS,
	OPT_BPFTRACE,
	OPT_COMM,
	OPT_CGROUP,
	OPT_GEN,
};

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "Trace these processes", 0 },
	{ "all", 'a', NULL, 0,
	  "Trace every Python process, also those started later (the default with no target)", 0 },
	{ "comm", OPT_COMM, "NAME", 0, "Only processes named NAME", 0 },
	{ "cgroup", OPT_CGROUP, "PATH|ID", 0,
	  "Only processes in this cgroup (v2 path, or a container id) and below", 0 },
	{ "gen", OPT_GEN, "N", 0, "Only collections of generation N", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS", 0 },
	{ "format", 'f', "FORMAT", 0,
	  "Event output: text (default), jsonl, or chrome (Perfetto/chrome://tracing JSON)", 0 },
	{ "output", 'o', "FILE", 0, "Write events to FILE ('-' for stdout)", 0 },
	{ "quiet", 'q', NULL, 0, "No per-event output: only the summary at exit", 0 },
	{ "list", OPT_LIST, NULL, 0,
	  "Print each target's binary, Python version and probe path, then exit", 0 },
	{ "uprobe", OPT_UPROBE, NULL, 0, "Use uprobes on the collector even where USDT exists", 0 },
	{ "empty-probes", OPT_EMPTY_PROBES, NULL, 0,
	  "Attach probes that do nothing (benchmark floor)", 0 },
	{ "clock-probes", OPT_CLOCK_PROBES, NULL, 0,
	  "Attach probes that only time each collection (benchmark floor of any pause tracer)", 0 },
	{ "stats", OPT_STATS, NULL, 0,
	  "Per pid and generation: count, sum, mean, p50/p90/p95/p99, max, GC share of wall time",
	  1 },
	{ "interval", 'i', "SECONDS", 0, "With --stats/--hist: report every SECONDS too", 1 },
	{ "table-format", OPT_TABLE_FORMAT, "FMT", 0, "--stats table: plain (default) or md", 1 },
	{ "hist", OPT_HIST, "pid", OPTION_ARG_OPTIONAL,
	  "log2 pause histograms per generation (--hist=pid: per process too)", 1 },
	{ "min-ms", OPT_MIN_MS, "MS", 0,
	  "Print only pauses >= MS (filtered in the kernel; statistics count every pause)", 1 },
	{ "prometheus", OPT_PROMETHEUS, "[ADDR:]PORT", 0,
	  "Serve /metrics for Prometheus (address default 127.0.0.1)", 1 },
	{ "bpftrace", OPT_BPFTRACE, NULL, 0,
	  "Print a ready-to-run bpftrace one-liner for each target, then exit", 1 },
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
			p_err("unknown format '%s': expected text, jsonl or chrome", arg);
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
		env.programs = PROGRAMS_EMPTY;
		break;
	case OPT_CLOCK_PROBES:
		env.programs = PROGRAMS_CLOCK;
		break;
	case OPT_STATS:
		env.stats = true;
		break;
	case 'i':
		errno = 0;
		env.interval_s = strtol(arg, &end, 10);
		if (errno || *end || env.interval_s <= 0) {
			p_err("invalid interval '%s': expected whole seconds > 0", arg);
			argp_usage(state);
		}
		break;
	case OPT_TABLE_FORMAT:
		if (report__parse_table(arg, &env.table)) {
			p_err("unknown table format '%s': expected plain or md", arg);
			argp_usage(state);
		}
		break;
	case OPT_HIST:
		if (arg && strcmp(arg, "pid")) {
			p_err("unknown --hist mode '%s': expected --hist or --hist=pid", arg);
			argp_usage(state);
		}
		env.hist = arg ? HIST_PID : HIST_GEN;
		break;
	case OPT_MIN_MS: {
		double ms;

		errno = 0;
		ms = strtod(arg, &end);
		if (errno || *end || end == arg || !(ms > 0) || ms > 1e9) {
			p_err("invalid --min-ms '%s': expected milliseconds > 0", arg);
			argp_usage(state);
		}
		env.min_ns = (__u64)(ms * 1e6 + 0.5);
		break;
	}
	case OPT_PROMETHEUS:
		env.prometheus = arg;
		break;
	case OPT_BPFTRACE:
		env.bpftrace = true;
		env.list_only = true;	/* resolve and print; launch and attach nothing */
		break;
	case 'v':
		log_verbose = true;
		break;
	case 'a':
		env.all = true;
		break;
	case OPT_COMM:
		env.comm = arg;
		break;
	case OPT_CGROUP:
		env.cgroup = arg;
		break;
	case OPT_GEN:
		if (strlen(arg) != 1 || arg[0] < '0' || arg[0] > '2') {
			p_err("invalid generation '%s': expected 0, 1 or 2", arg);
			argp_usage(state);
		}
		env.gen = arg[0] - '0';
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
		if (env.all && (env.cmd || env.nr_pids)) {
			p_err("-a traces every process: drop -p or the command");
			argp_usage(state);
		}
		if (!env.cmd && !env.nr_pids)
			env.all = true;
		if (env.all && env.list_only) {
			p_err("--list and --bpftrace need a target: -p PID or -- CMD");
			argp_usage(state);
		}
		if (env.interval_s && !env.stats && env.hist == HIST_NONE) {
			p_err("-i reports statistics or histograms: add --stats and/or --hist");
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
	struct agg agg;		/* with aggregating(): the kernel's histograms */
	struct prometheus prom;
	struct report_opts report;
	__u64 start_ns;		/* tracing began (CLOCK_MONOTONIC) */
	struct target targets[MAX_TARGETS];
	int nr_targets;
	struct launch child;	/* launch mode's command */
	struct follower follow;	/* launch mode and system-wide: binaries as they come */
};

/* Launch mode: the command's tree; system-wide: every process. */
static bool following(void)
{
	return env.all || (env.cmd && !env.list_only);
}

static void on_exec(void *ctx, const struct gc_proc_event *e)
{
	struct session *s = ctx;

	follower__on_exec(&s->follow, e);
}

static void on_event(void *ctx, const struct gc_event *e)
{
	struct session *s = ctx;

	struct proc_stats *p = stats__add(&s->stats, e);

	/* Label a process once, while /proc still has it. */
	if (p && !p->labelled) {
		target__container_id(p->pid, p->container, sizeof(p->container));
		p->labelled = true;
	}
	if (aggregating())
		agg__event(&s->agg, e);
	output__event(&s->out, e, tracer__build(&s->tracer, e->binary));
}

static void on_batch(void *ctx)
{
	struct session *s = ctx;

	output__flush(&s->out);
}

/* --bpftrace: the path the host sees (the target's own path unless in another root). */
static void print_oneliner(const struct target *t, const struct py_build *b)
{
	struct stat st;
	const char *path = b->display_path;

	if (stat(path, &st) || st.st_dev != b->dev || st.st_ino != b->ino)
		path = b->path;
	oneliner__print(stdout, b, path, env.cmd ? 0 : t->pid, env.cmd);
	fflush(stdout);
}

/* Resolves targets and their builds; with --list or --bpftrace prints them. */
static int resolve_targets(struct session *s, struct py_build *builds)
{
	struct py_build_opts bopts = { .force_uprobe = env.force_uprobe };
	char err[512];
	int i, ret;

	if (env.cmd) {
		struct target *t = &s->targets[s->nr_targets++];

		memset(t, 0, sizeof(*t));
		t->pid = s->child.pid;
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
		if (env.bpftrace)
			print_oneliner(t, &builds[i]);
		else if (env.list_only) {
			if (env.cmd)
				printf("%s: ", env.cmd[0]);
			else
				printf("pid %d (%s): ", t->pid, t->comm);
			printf("%s, Python %s%s (version from %s), probe %s: %s\n",
			       builds[i].display_path, builds[i].version,
			       builds[i].debug ? " debug" : "", builds[i].version_source,
			       py_build__probe_name(builds[i].probe), builds[i].why);
		}
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
		fprintf(stderr, "Tracing CPython GC in %s (pid %d) and every process it starts... "
			"Hit Ctrl-C to end.\n", env.cmd[0], s->child.pid);
	else if (env.all)
		fprintf(stderr, "Tracing CPython GC in every process (%d binar%s armed, more as "
			"they start)... Hit Ctrl-C to end.\n", s->follow.nr_armed,
			s->follow.nr_armed == 1 ? "y" : "ies");
	else if (s->nr_targets == 1)
		fprintf(stderr, "Tracing CPython GC in PID %d (%s, Python %s, %s)... "
			"Hit Ctrl-C to end.\n", s->targets[0].pid, b->display_path, b->version,
			py_build__probe_name(b->probe));
	else
		fprintf(stderr, "Tracing CPython GC in %d processes... Hit Ctrl-C to end.\n",
			s->nr_targets);
}

/* True once nothing is left to trace. */
static bool targets_done(struct session *s)
{
	int i, alive = 0;

	if (env.all)
		return false;
	if (env.cmd)
		return launch__reap(&s->child, false);
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

/* The kernel's histograms and counters into s->agg; expires exited exported pids. */
static void refresh_agg(struct session *s)
{
	pid_t gone[64];
	int i, n;

	if (!aggregating())
		return;
	pthread_mutex_lock(&s->agg.lock);
	tracer__for_each_hist(&s->tracer, agg__set_hist, &s->agg);
	tracer__counters(&s->tracer, s->agg.counters);
	/* The kernel's map is bounded: an exited process's entries go once copied
	 * (at the next refresh), or once its last scrape interval is over. */
	n = agg__expired(&s->agg, mono_ns() / 1e9, env.prometheus ? PROM_EXPIRE_S : 0.5, gone, 64);
	for (i = 0; i < n; i++)
		tracer__forget_pid(&s->tracer, gone[i]);
	pthread_mutex_unlock(&s->agg.lock);
}

static int run(struct session *s)
{
	__u64 start = mono_ns(), seen_lost = 0, last_report = start;
	int ticks = 0, err;

	while (!exiting) {
		err = tracer__poll(&s->tracer, 100);
		if (err < 0) {
			p_err("reading events failed: %s", strerror(-err));
			return err;
		}
		if (targets_done(s))
			break;
		if (env.duration_s && mono_ns() - start >= env.duration_s * 1000000000ULL)
			break;
		if (++ticks % 10 == 0) {
			warn_losses(s, &seen_lost);
			refresh_agg(s);
		}
		/* Interpreters embedded in programs that are not Python (libpython
		 * dlopen'ed after exec) show up only in /proc/PID/maps. */
		if (env.all && ticks % (RESCAN_S * 10) == 0)
			follower__scan(&s->follow);
		if (env.interval_s && mono_ns() - last_report >= env.interval_s * 1000000000ULL) {
			__u64 t = mono_ns();

			refresh_agg(s);
			pthread_mutex_lock(&s->agg.lock);
			report__print(&s->agg, &s->report, true, t - last_report);
			pthread_mutex_unlock(&s->agg.lock);
			last_report = t;
		}
	}
	tracer__stop_following(&s->tracer);
	tracer__drain(&s->tracer);
	warn_losses(s, &seen_lost);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, "[-- CMD [ARGS...]]", doc, NULL, NULL,
					  NULL };
	static struct session s;
	static struct py_build builds[MAX_TARGETS];
	struct tracer_opts topts = { .on_event = on_event, .on_batch = on_batch,
				     .on_exec = on_exec, .ctx = &s };
	FILE *out = stdout;
	__u64 counters[GC_CNT_MAX];
	int err, exit_code = 0;

	err = argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (err)
		return 2;
	agg__init(&s.agg);
	if (env.prometheus &&
	    prometheus__parse_addr(env.prometheus, &s.prom.addr, s.prom.where, sizeof(s.prom.where))) {
		p_err("invalid --prometheus '%s': expected [ADDR:]PORT, e.g. 9464 or 0.0.0.0:9464",
		      env.prometheus);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (env.cmd && !env.list_only) {
		char path[PATH_MAX], why[PATH_MAX + 64];

		/* Say a missing command here, in one line, not from the child. */
		if (target__find_executable(env.cmd[0], path, sizeof(path), why, sizeof(why))) {
			p_err("%s", why);
			return 1;
		}
		if ((err = launch__start(&s.child, env.cmd)))
			return 1;
	}
	if (!following()) {
		err = resolve_targets(&s, builds);
		if (err || env.list_only)
			goto cleanup;
	}

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
		     env.format == OUTPUT_TEXT || env.format == OUTPUT_NONE ? out
		     : out == stdout ? stderr : stdout);
	s.report = (struct report_opts){ .stats = env.stats, .hist = env.hist,
					 .table = env.table, .table_f = s.out.summary,
					 .json_f = env.format == OUTPUT_JSONL ? out : NULL };
	topts.programs = env.programs;
	topts.min_ns = env.min_ns;
	topts.aggregate = aggregating();
	topts.events = env.format != OUTPUT_NONE;
	topts.follow = env.cmd != NULL;
	topts.stop_on_exec = env.cmd != NULL;
	topts.report_exec = env.all;
	topts.comm = env.comm;
	topts.filter_gen = env.gen >= 0;
	topts.gen = env.gen;
	if (env.cgroup) {
		char why[PATH_MAX + 128];

		topts.cgroup_fd = target__open_cgroup(env.cgroup, why, sizeof(why));
		if (topts.cgroup_fd < 0) {
			p_err("%s", why);
			err = topts.cgroup_fd;
			goto cleanup;
		}
	}
	err = tracer__open(&s.tracer, &topts);
	if (err)
		goto cleanup;
	follower__init(&s.follow, &s.tracer,
		       &(struct py_build_opts){ .force_uprobe = env.force_uprobe });
	if (env.cmd)
		err = tracer__track(&s.tracer, s.child.pid);
	else if (env.all)
		follower__scan(&s.follow);
	else
		err = attach_targets(&s, builds);
	if (err)
		goto cleanup;
	for (int i = 0; aggregating() && !env.cmd && i < s.nr_targets; i++)
		agg__proc(&s.agg, s.targets[i].pid, s.targets[i].comm);
	if (env.prometheus && (err = prometheus__start(&s.prom, &s.agg)))
		goto cleanup;
	if (env.prometheus)
		fprintf(stderr, "Serving Prometheus metrics at http://%s/metrics\n", s.prom.where);
	print_banner(&s, builds);
	s.start_ns = mono_ns();
	launch__release(&s.child);
	err = run(&s);
	tracer__counters(&s.tracer, counters);
	if (aggregating()) {
		/* Exact even with --min-ms or losses: every pause, from the kernel. */
		refresh_agg(&s);
		pthread_mutex_lock(&s.agg.lock);
		if (env.stats || env.hist != HIST_NONE)
			report__print(&s.agg, &s.report, false, mono_ns() - s.start_ns);
		agg__to_stats(&s.agg, &s.stats);
		pthread_mutex_unlock(&s.agg.lock);
	}
	output__summary(&s.out, &s.stats, counters);
	if (env.cmd && !s.follow.nr_armed)
		p_warn("%s ran no Python interpreter gcbpf could trace (-v says why)", env.cmd[0]);
	if (counters[GC_CNT_LOST])
		p_warn("%llu events lost in total (ring buffer full)",
		       (unsigned long long)counters[GC_CNT_LOST]);
	if (counters[GC_CNT_HIST_FULL])
		p_warn("%llu collections not in the statistics: the kernel's histogram map was full "
		       "(too many live processes at once; narrow with -p, --comm or --cgroup)",
		       (unsigned long long)counters[GC_CNT_HIST_FULL]);

cleanup:
	if (env.cmd && err) {
		launch__abort(&s.child);
	} else if (env.cmd) {
		/* Stopped by Ctrl-C or -d: the child got the signal too; report its status. */
		launch__reap(&s.child, true);
		exit_code = s.child.exit_code;
	}
	prometheus__stop(&s.prom);
	output__finish(&s.out);	/* chrome: "]}" on every path after the header */
	tracer__close(&s.tracer);
	follower__free(&s.follow);
	stats__free(&s.stats);
	agg__free(&s.agg);
	if (out && out != stdout)
		fclose(out);
	if (err)
		return 1;
	return exit_code;
}
