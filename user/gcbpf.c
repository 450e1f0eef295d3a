// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf: trace every CPython garbage collection with eBPF.
 * main(): the options, parsed once into struct options with the run mode
 * named, then that mode's entry point (session.c).
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "out/output.h"
#include "out/out_prometheus.h"
#include "python/pystack.h"
#include "report/report.h"
#include "trace/inside.h"
#include "trace/session.h"
#include "util/version.h"

static struct options opt = {
	.gen = -1,
};

/* Set while parsing; the mode is computed from them once, at the end. */
static bool list_only, bpftrace, all, all_events;

const char *argp_program_version = "gcbpf " GCBPF_VERSION;
const char *argp_program_bug_address = "the gcbpf issue tracker";
static const char doc[] =
	"Trace every CPython garbage collection: generation, pause, collected and "
	"uncollectable objects.\n"
	"\n"
	"USAGE: gcbpf [OPTIONS]                   every Python process, also later ones\n"
	"       gcbpf top [OPTIONS] [-p PID...]   a live view, sorted by GC share\n"
	"       gcbpf [OPTIONS] -p PID[,PID...]\n"
	"       gcbpf [OPTIONS] -- CMD [ARGS...]   CMD and every process it starts\n"
	"       gcbpf report [OPTIONS] FILE.jsonl...  every at-exit view of a saved trace\n"
	"       gcbpf compare [OPTIONS] BEFORE.jsonl AFTER.jsonl  what changed, with intervals\n"
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
	OPT_STRICT,
	OPT_MATCH,
	OPT_HIDE_ARGS,
	OPT_PROMETHEUS_PID,
	OPT_ALL_EVENTS,
	OPT_ADVICE,
	OPT_STACKS,
	OPT_FOLDED_WEIGHT,
	OPT_BY_STACK,
	OPT_INSIDE,
	OPT_FOLDED_WHAT,
};

static struct argp_option opts[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "Trace these processes", 0 },
	{ "all", 'a', NULL, 0,
	  "Trace every Python process, also those started later (the default with no target)", 0 },
	{ "strict", OPT_STRICT, NULL, 0,
	  "With -p: a PID that cannot be traced is an error (default: warn, trace the others)", 0 },
	{ "comm", OPT_COMM, "NAME", 0, "Only processes named NAME", 0 },
	{ "cgroup", OPT_CGROUP, "PATH|ID", 0,
	  "Only processes in this cgroup (v2 path, or a container id) and below", 0 },
	{ "gen", OPT_GEN, "N", 0, "Only collections of generation N", 0 },
	{ "match", OPT_MATCH, "PATTERN", 0,
	  "Only processes whose command line matches the glob PATTERN (e.g. '*celery*')", 0 },
	{ "hide-args", OPT_HIDE_ARGS, NULL, 0,
	  "Show command lines without their arguments (they can carry secrets)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS", 0 },
	{ "format", 'f', "FORMAT", 0, NULL /* format_doc(): from the list of formats */, 0 },
	{ "output", 'o', "FILE", 0, "Write events to FILE ('-' for stdout)", 0 },
	{ "all-events", OPT_ALL_EVENTS, NULL, 0,
	  "Text: every collection as it happens (default: pauses >= 1 ms, and a line per process "
	  "per second)", 0 },
	{ "quiet", 'q', NULL, 0, "No per-event output: only the pause table (and JSON records) at exit",
	  0 },
	{ "list", OPT_LIST, NULL, 0,
	  "Print each target's binary, Python version and probe path, then exit", 0 },
	{ "uprobe", OPT_UPROBE, NULL, 0, "Use uprobes on the collector even where USDT exists", 0 },
	{ "empty-probes", OPT_EMPTY_PROBES, "one", OPTION_ARG_OPTIONAL,
	  "Attach probes that do nothing (benchmark floor); =one: on one point per collection "
	  "only (gc__done, else the collector's entry: the floor of a one-trap tracer)", 0 },
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
	{ "folded-weight", OPT_FOLDED_WEIGHT, "sum|count", 0,
	  "-f folded: weigh each stack by its total pause in ns (sum, default) or its collections",
	  1 },
	{ "by-stack", OPT_BY_STACK, "N", OPTION_ARG_OPTIONAL,
	  "At exit, the N (default 10) trigger sites ranked by total pause, per generation", 1 },
	{ "advice", OPT_ADVICE, NULL, 0,
	  "At exit, what to do about what was measured, per process, with its numbers", 1 },
	{ "prometheus-pid", OPT_PROMETHEUS_PID, NULL, 0,
	  "With --prometheus: a series per process (label pid), not per service", 1 },
	{ "bpftrace", OPT_BPFTRACE, NULL, 0,
	  "Print a ready-to-run bpftrace one-liner for each target, then exit", 1 },
	{ "stacks", OPT_STACKS, "DEPTH", OPTION_ARG_OPTIONAL,
	  "The Python stack of the collecting thread at each collection, innermost first "
	  "(default 64 frames, at most 256; JSONL \"stack\")", 1 },
	{ "inside", OPT_INSIDE, "HZ", OPTION_ARG_OPTIONAL,
	  "Sample each pause (default 997 Hz per CPU): the native functions and Python code "
	  "(finalizers, callbacks) its time went to; JSONL \"inside\", a table at exit", 1 },
	{ "folded-what", OPT_FOLDED_WHAT, "stacks|inside", 0,
	  "-f folded: the trigger stacks (default), or with --inside where the pauses' samples "
	  "were (gen;frames or native function)", 1 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output (libbpf included)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

/* Whole seconds > 0, in ns, refusing what would overflow. */
static __u64 parse_seconds(const char *arg, const char *what, struct argp_state *state)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0 || v > 100LL * 365 * 24 * 3600) {
		p_err("invalid %s '%s': expected whole seconds, 1 to 3153600000", what, arg);
		argp_usage(state);
	}
	return (__u64)v * 1000000000ULL;
}

static int parse_pids(char *arg, struct argp_state *state)
{
	char *tok, *save = NULL, *end;

	/* What -p "$(pgrep app)" becomes when app is not running: not "every process". */
	if (!arg[strspn(arg, ", \t\n")]) {
		p_err("-p '%s' names no process: expected PID[,PID...] (is the program running?)",
		      arg);
		argp_usage(state);
	}

	/* Commas, or the newlines of "$(pgrep app)". */
	for (tok = strtok_r(arg, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save)) {
		long pid;

		errno = 0;
		pid = strtol(tok, &end, 10);
		if (errno || *end || pid <= 0 || pid > 0x3fffffff) {
			p_err("invalid PID '%s': expected a positive number", tok);
			argp_usage(state);
		}
		if (opt.nr_pids == MAX_TARGETS) {
			p_err("too many PIDs: at most %d", MAX_TARGETS);
			argp_usage(state);
		}
		opt.pids[opt.nr_pids++] = pid;
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
		opt.duration_ns = parse_seconds(arg, "duration", state);
		break;
	case 'f':
		opt.format = output__format(arg);
		if (!opt.format) {
			p_err("unknown format '%s': expected %s", arg, output__format_names());
			argp_usage(state);
		}
		break;
	case 'o':
		opt.output_path = arg;
		break;
	case 'q':
		opt.sinks.quiet = true;
		break;
	case OPT_LIST:
		list_only = true;
		break;
	case OPT_UPROBE:
		opt.force_uprobe = true;
		break;
	case OPT_EMPTY_PROBES:
		if (arg && strcmp(arg, "one")) {
			p_err("unknown --empty-probes mode '%s': expected --empty-probes or "
			      "--empty-probes=one", arg);
			argp_usage(state);
		}
		opt.programs = arg ? PROGRAMS_EMPTY_ONE : PROGRAMS_EMPTY;
		break;
	case OPT_CLOCK_PROBES:
		opt.programs = PROGRAMS_CLOCK;
		break;
	case OPT_STATS:
		opt.sinks.stats = true;
		break;
	case 'i':
		opt.interval_ns = parse_seconds(arg, "interval", state);
		break;
	case OPT_TABLE_FORMAT:
		if (!strcmp(arg, "plain")) {
			opt.sinks.table = TABLE_PLAIN;
		} else if (!strcmp(arg, "md") || !strcmp(arg, "markdown")) {
			opt.sinks.table = TABLE_MD;
		} else {
			p_err("unknown table format '%s': expected plain or md", arg);
			argp_usage(state);
		}
		break;
	case OPT_HIST:
		if (arg && strcmp(arg, "pid")) {
			p_err("unknown --hist mode '%s': expected --hist or --hist=pid", arg);
			argp_usage(state);
		}
		opt.sinks.hist = arg ? HIST_PID : HIST_GEN;
		break;
	case OPT_MIN_MS: {
		double ms;

		errno = 0;
		ms = strtod(arg, &end);
		if (errno || *end || end == arg || !(ms > 0) || ms > 1e9) {
			p_err("invalid --min-ms '%s': expected milliseconds > 0", arg);
			argp_usage(state);
		}
		opt.min_ns = (__u64)(ms * 1e6 + 0.5);
		break;
	}
	case OPT_PROMETHEUS:
		opt.sinks.prometheus = arg;
		break;
	case OPT_BPFTRACE:
		bpftrace = true;
		break;
	case 'v':
		log_verbose = true;
		all_events = true;
		break;
	case 'a':
		all = true;
		break;
	case OPT_COMM:
		opt.comm = arg;
		break;
	case OPT_STRICT:
		opt.strict = true;
		break;
	case OPT_MATCH:
		opt.match = arg;
		break;
	case OPT_HIDE_ARGS:
		opt.hide_args = true;
		break;
	case OPT_FOLDED_WEIGHT:
		if (strcmp(arg, "sum") && strcmp(arg, "count")) {
			p_err("unknown --folded-weight '%s': expected sum or count", arg ? arg : "");
			argp_usage(state);
		}
		opt.sinks.folded_count = !strcmp(arg, "count");
		break;
	case OPT_BY_STACK: {
		char *stop;
		long n = arg ? strtol(arg, &stop, 10) : BY_STACK_DEFAULT;

		if (arg && (*stop || stop == arg || n < 1 || n > 100000)) {
			p_err("invalid --by-stack '%s': expected a number of sites, 1 to 100000", arg);
			argp_usage(state);
		}
		opt.sinks.by_stack = n;
		break;
	}
	case OPT_ADVICE:
		opt.sinks.advice = true;
		break;
	case OPT_ALL_EVENTS:
		all_events = true;
		break;
	case OPT_PROMETHEUS_PID:
		opt.sinks.prometheus_pid = true;
		break;
	case OPT_CGROUP:
		opt.cgroup = arg;
		break;
	case OPT_GEN:
		if (strlen(arg) != 1 || arg[0] < '0' || arg[0] > '2') {
			p_err("invalid generation '%s': expected 0, 1 or 2", arg);
			argp_usage(state);
		}
		opt.gen = arg[0] - '0';
		break;
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		/* Everything from the first positional on is the command. */
		opt.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case OPT_INSIDE:
		if (inside__parse_hz(arg, &opt.inside_hz)) {
			p_err("invalid --inside rate '%s': expected samples per second, 1 to %d",
			      arg ?: "", INSIDE_MAX_HZ);
			argp_usage(state);
		}
		opt.sinks.inside_hz = opt.inside_hz;
		break;
	case OPT_FOLDED_WHAT:
		/* gcc under ASan cannot see that a required argument is never NULL */
		if (!arg || (strcmp(arg, "stacks") && strcmp(arg, "inside"))) {
			p_err("unknown --folded-what '%s': expected stacks or inside", arg ?: "");
			argp_usage(state);
		}
		opt.sinks.folded_inside = !strcmp(arg, "inside");
		break;
	case OPT_STACKS:
		if (pystack__parse_depth(arg, &opt.stack_depth)) {
			p_err("invalid --stacks depth '%s': expected frames, 1 to %d", arg,
			      GCBPF_MAX_STACK);
			argp_usage(state);
		}
		break;
	case ARGP_KEY_END:
		/* top --stacks: the selected process's trigger sites, as --by-stack ranks them. */
		if (opt.sinks.top && opt.stack_depth && !opt.sinks.by_stack)
			opt.sinks.by_stack = BY_STACK_DEFAULT;
		if (opt.sinks.folded_inside && (opt.format != &folded_sink || !opt.inside_hz)) {
			p_err("--folded-what inside needs -f folded and --inside");
			argp_usage(state);
		}
		/* The views of stacks ask for them; text shows none. */
		if (!opt.stack_depth && ((opt.format == &folded_sink && !opt.sinks.folded_inside) ||
					 opt.sinks.by_stack))
			opt.stack_depth = PYSTACK_DEFAULT_DEPTH;
		if (opt.stack_depth && opt.format != &jsonl_sink && opt.format != &chrome_sink &&
		    opt.format != &folded_sink && opt.format != &html_sink && !opt.sinks.by_stack &&
		    !opt.sinks.advice && !list_only && !bpftrace) {
			p_err("--stacks shows stacks in -f jsonl, -f chrome, -f folded, -f html, "
			      "--by-stack, --advice and gcbpf top: add one of them");
			argp_usage(state);
		}
		if (opt.cmd && opt.nr_pids) {
			p_err("-p and a command are exclusive: trace either running processes or CMD");
			argp_usage(state);
		}
		if (all && (opt.cmd || opt.nr_pids)) {
			p_err("-a traces every process: drop -p or the command");
			argp_usage(state);
		}
		if (bpftrace && !opt.cmd && !opt.nr_pids) {
			p_err("--bpftrace needs a target: -p PID or -- CMD");
			argp_usage(state);
		}
		if (opt.sinks.prometheus_pid && !opt.sinks.prometheus) {
			p_err("--prometheus-pid labels the exporter's series: add --prometheus PORT");
			argp_usage(state);
		}
		if (opt.sinks.top && (opt.cmd || list_only || bpftrace)) {
			p_err("gcbpf top shows running processes: use it with -p PID or alone "
			      "(system-wide), not with a command, --list or --bpftrace");
			argp_usage(state);
		}
		if (opt.sinks.top && !opt.interval_ns)
			opt.interval_ns = LIVE_INTERVAL_NS;	/* redrawn every second */
		/* Text's default view, readable on a busy host; every event on request. */
		opt.sinks.live = (!opt.format || !opt.format->machine) && !opt.sinks.quiet &&
				 !all_events && !opt.sinks.top;
		if (opt.interval_ns && !opt.sinks.stats && opt.sinks.hist == HIST_NONE &&
		    !opt.sinks.live && !opt.sinks.top) {
			p_err("-i reports statistics or histograms: add --stats and/or --hist");
			argp_usage(state);
		}
		opt.sinks.intervals = opt.interval_ns != 0;
		if (opt.sinks.live && !opt.min_ns)
			opt.min_ns = LIVE_MIN_NS;
		if (opt.sinks.live && !opt.interval_ns)
			opt.interval_ns = LIVE_INTERVAL_NS;
		/* The mode, once. */
		if (bpftrace)
			opt.mode = MODE_ONELINER;
		else if (list_only)
			opt.mode = MODE_LIST;
		else if (opt.cmd)
			opt.mode = MODE_LAUNCH;
		else if (opt.nr_pids)
			opt.mode = MODE_PIDS;
		else
			opt.mode = MODE_SYSTEM;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* -f's help names every format the outputs list. */
static void format_doc(void)
{
	static char text[192];
	struct argp_option *o;

	snprintf(text, sizeof(text), "Event output: %s (default text; chrome: Perfetto/"
		 "chrome://tracing JSON)", output__format_names());
	for (o = opts; o->name || o->key; o++)
		if (o->key == 'f')
			o->doc = text;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, "[-- CMD [ARGS...]]", doc, NULL, NULL,
					  NULL };

	argp_err_exit_status = 2;	/* bad arguments, as the man page says */
	format_doc();
	/* gcbpf report: saved traces, no tracing (perf record/report). */
	if (argc > 1 && !strcmp(argv[1], "report"))
		return report__main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "compare"))
		return compare__main(argc - 1, argv + 1);
	/* gcbpf top [OPTIONS]: the live view, a word before the options as in perf top. */
	if (argc > 1 && !strcmp(argv[1], "top")) {
		opt.sinks.top = true;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return 2;
	if (opt.sinks.prometheus) {
		struct sockaddr_storage ss;
		char where[80];

		if (prometheus__parse_addr(opt.sinks.prometheus, &ss, where, sizeof(where))) {
			p_err("invalid --prometheus '%s': expected [ADDR:]PORT, e.g. 9464 or "
			      "0.0.0.0:9464", opt.sinks.prometheus);
			return 2;
		}
	}
	session__catch_signals();
	return session__run(&opt);
}
