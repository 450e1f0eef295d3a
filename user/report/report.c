// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf report: a saved trace's events replayed into the live run's
 * structures (a struct totals whose histograms the events fill as the
 * kernel's would have, the sinks fed event by event), so every view is the
 * live code's; then, where the trace says pauses have no events (lost in
 * the ring buffer, or never written: --min-ms), how many, beside the live
 * run's totals.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report/report.h"
#include "report/trace_file.h"
#include "trace/hdr.h"
#include "out/output.h"
#include "util/log.h"
#include "util/text.h"

#define MAX_PIDS 64

struct report_opts {
	const struct sink_ops *format;	/* -f; NULL: the views only */
	const char *output;
	struct sink_config cfg;
	struct trace_filter filter;
	pid_t pids[MAX_PIDS];
	char **files;
	int nr_files;
};

enum {
	OPT_STATS = 0x100,
	OPT_HIST,
	OPT_TABLE_FORMAT,
	OPT_FOLDED_WEIGHT,
	OPT_BY_STACK,
	OPT_ADVICE,
	OPT_MATCH,
	OPT_SERVICE,
	OPT_GEN,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_HTML,
};

static const struct argp_option report_options[] = {
	{ "format", 'f', "FORMAT", 0,
	  "Also write the events again: text, jsonl (filtered, merged), chrome, folded or html", 0 },
	{ "output", 'o', "FILE", 0, "Write the -f output to FILE ('-' for stdout)", 0 },
	{ "html", OPT_HTML, NULL, 0, "The same as -f html: one self-contained page (with -o)", 0 },
	{ "stats", OPT_STATS, NULL, 0, "Percentiles and GC share in the pause table", 1 },
	{ "hist", OPT_HIST, "pid", OPTION_ARG_OPTIONAL, "log2 pause histograms per generation", 1 },
	{ "table-format", OPT_TABLE_FORMAT, "FMT", 0, "The pause table: plain (default) or md", 1 },
	{ "by-stack", OPT_BY_STACK, "N", OPTION_ARG_OPTIONAL,
	  "The N (default 10) trigger sites ranked by total pause", 1 },
	{ "advice", OPT_ADVICE, NULL, 0, "What to do about what was measured", 1 },
	{ "folded-weight", OPT_FOLDED_WEIGHT, "sum|count", 0, "-f folded: weigh by ns or count", 1 },
	{ "pid", 'p', "PID[,PID...]", 0, "Only these processes", 2 },
	{ "match", OPT_MATCH, "PATTERN", 0, "Only processes whose command line matches the glob", 2 },
	{ "service", OPT_SERVICE, "PATTERN", 0, "Only processes whose service matches the glob", 2 },
	{ "gen", OPT_GEN, "N", 0, "Only collections of generation N", 2 },
	{ "since", OPT_SINCE, "SECONDS", 0,
	  "Only collections that started SECONDS or more after each file's first one", 2 },
	{ "until", OPT_UNTIL, "SECONDS", 0,
	  "Only collections that started before SECONDS after each file's first one", 2 },
	{ "verbose", 'v', NULL, 0, "Verbose messages", 3 },
	{},
};

/* Seconds >= 0 with decimals, as ns; -1 when arg is none. */
static int parse_ns(const char *arg, __u64 *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= 0) || v > 1e9)
		return -1;
	*ns = (__u64)(v * 1e9 + 0.5);
	return 0;
}

static int parse_pid_list(struct report_opts *o, char *arg)
{
	char *tok, *save = NULL, *end;

	for (tok = strtok_r(arg, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save)) {
		long pid;

		errno = 0;
		pid = strtol(tok, &end, 10);
		if (errno || *end || pid <= 0 || pid > 0x3fffffff || o->filter.nr_pids == MAX_PIDS)
			return -1;
		o->pids[o->filter.nr_pids++] = pid;
	}
	return o->filter.nr_pids ? 0 : -1;
}

static error_t report_arg(int key, char *arg, struct argp_state *state)
{
	struct report_opts *o = state->input;
	char *stop;
	long n;

	switch (key) {
	case 'f':
		o->format = output__format(arg);
		if (!o->format) {
			p_err("unknown format '%s': expected %s", arg, output__format_names());
			argp_usage(state);
		}
		break;
	case OPT_HTML:
		o->format = &html_sink;
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_STATS:
		o->cfg.stats = true;
		break;
	case OPT_HIST:
		if (arg && strcmp(arg, "pid")) {
			p_err("unknown --hist mode '%s': expected --hist or --hist=pid", arg);
			argp_usage(state);
		}
		o->cfg.hist = arg ? HIST_PID : HIST_GEN;
		break;
	case OPT_TABLE_FORMAT:
		if (strcmp(arg, "plain") && strcmp(arg, "md") && strcmp(arg, "markdown")) {
			p_err("unknown table format '%s': expected plain or md", arg);
			argp_usage(state);
		}
		o->cfg.table = strcmp(arg, "plain") ? TABLE_MD : TABLE_PLAIN;
		break;
	case OPT_BY_STACK:
		n = arg ? strtol(arg, &stop, 10) : BY_STACK_DEFAULT;
		if (arg && (*stop || stop == arg || n < 1 || n > 100000)) {
			p_err("invalid --by-stack '%s': expected a number of sites, 1 to 100000", arg);
			argp_usage(state);
		}
		o->cfg.by_stack = n;
		break;
	case OPT_ADVICE:
		o->cfg.advice = true;
		break;
	case OPT_FOLDED_WEIGHT:
		if (strcmp(arg, "sum") && strcmp(arg, "count")) {
			p_err("unknown --folded-weight '%s': expected sum or count", arg ?: "");
			argp_usage(state);
		}
		o->cfg.folded_count = !strcmp(arg, "count");
		break;
	case 'p':
		if (parse_pid_list(o, arg)) {
			p_err("invalid --pid '%s': expected PID[,PID...], at most %d", arg, MAX_PIDS);
			argp_usage(state);
		}
		o->filter.pids = o->pids;
		break;
	case OPT_MATCH:
		o->filter.match = arg;
		break;
	case OPT_SERVICE:
		o->filter.service = arg;
		break;
	case OPT_GEN:
		if (trace_filter__set_gen(&o->filter, arg))
			argp_usage(state);
		break;
	case OPT_SINCE:
	case OPT_UNTIL:
		if (parse_ns(arg, key == OPT_SINCE ? &o->filter.since_ns : &o->filter.until_ns)) {
			p_err("invalid --%s '%s': expected seconds from the trace's start, e.g. 30 or "
			      "2.5", key == OPT_SINCE ? "since" : "until", arg);
			argp_usage(state);
		}
		break;
	case 'v':
		log_verbose = true;
		break;
	case ARGP_KEY_ARG:
		o->files = &state->argv[state->next - 1];
		o->nr_files = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!o->nr_files) {
			p_err("gcbpf report needs a trace: gcbpf report FILE.jsonl... (what gcbpf -f "
			      "jsonl -o FILE wrote)");
			argp_usage(state);
		}
		if (o->format == &html_sink && (!o->output || !strcmp(o->output, "-")) &&
		    isatty(STDOUT_FILENO)) {
			p_err("--html writes a page, not text for a terminal: add -o report.html");
			argp_usage(state);
		}
		if (o->filter.until_ns && o->filter.until_ns <= o->filter.since_ns) {
			p_err("--until must be after --since");
			argp_usage(state);
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * The processes the filter keeps, as the live run's totals would hold them:
 * identity from the trace, no buckets yet. map[i]: trace process i's row, -1 dropped.
 */
static int build_totals(struct totals *tot, const struct trace *t, const struct trace_filter *f,
			int *map)
{
	int i;

	for (i = 0; i < t->procs.nr; i++) {
		const struct rec_proc *rp = &t->procs.items[i];
		struct proc_totals *p;
		int g;

		map[i] = -1;
		if (!trace_filter__proc(f, rp))
			continue;
		p = vec_push(&tot->procs);
		if (!p)
			return -ENOMEM;
		map[i] = tot->procs.nr - 1;
		p->pid = rp->pid;
		memcpy(p->comm, rp->comm, sizeof(p->comm));
		p->id = rp->id;
		p->id.matched = true;
		p->service = -1;
		p->heap_size = p->long_lived_total = p->rss = -1;
		gc_config__init(&p->gc);
		snprintf(p->gc.why, sizeof(p->gc.why), "not in the saved trace");
		for (g = 0; g < 3; g++) {
			p->recorded[g] = rp->summarized[g] && (f->gen < 0 || f->gen == g);
			p->kernel[g] = rp->kernel[g];
		}
	}
	return 0;
}

/* What an event adds to its row: as the kernel's histogram and totals__event would. */
static int account(struct proc_totals *p, const struct gc_event *e)
{
	struct gc_hist **h = &p->hist[e->gen];

	if (!*h && !(*h = calloc(1, sizeof(**h))))
		return -ENOMEM;
	hdr__add(*h, e->ts_stop - e->ts_start, e->collected, e->uncollectable);
	memcpy(&p->gen[e->gen], *h, sizeof(p->gen[e->gen]));
	totals__gauges(p, e);
	return 0;
}

/*
 * Pauses the live run counted but the trace has no event for: the numbers
 * above come from the events; the live run's totals beside them.
 */
static void missing_note(FILE *f, const struct totals *tot, const struct trace_filter *flt)
{
	bool windowed = flt->since_ns || flt->until_ns;
	char s1[24], s2[24], m1[24], m2[24];
	__u64 missing = 0;
	int i, g, n = 0;

	for (i = 0; i < tot->procs.nr; i++)
		for (g = 0; g < 3; g++) {
			const struct proc_totals *p = &tot->procs.items[i];

			if (p->recorded[g] && p->kernel[g].count > p->gen[g].count)
				missing += p->kernel[g].count - p->gen[g].count;
		}
	if (!missing || windowed)
		return;
	fprintf(f, "\nThe numbers above come from the trace's events; the live run counted %llu "
		"collections more (lost in the ring buffer, or not written: --min-ms, -q).\n"
		"Its totals, every pause included:\n", (unsigned long long)missing);
	for (i = 0; i < tot->procs.nr; i++)
		for (g = 0; g < 3; g++) {
			const struct proc_totals *p = &tot->procs.items[i];

			if (!p->recorded[g] || p->kernel[g].count == p->gen[g].count)
				continue;
			if (!n++)
				fprintf(f, "%-7s %3s %10s %10s %11s %11s %10s %10s\n", "PID", "GEN",
					"EVENTS", "LIVE", "SUM", "LIVE_SUM", "MAX", "LIVE_MAX");
			fprintf(f, "%-7d %3d %10llu %10llu %11s %11s %10s %10s\n", p->pid, g,
				(unsigned long long)p->gen[g].count,
				(unsigned long long)p->kernel[g].count,
				text__duration(s1, sizeof(s1), p->gen[g].sum_ns),
				text__duration(s2, sizeof(s2), p->kernel[g].sum_ns),
				text__duration(m1, sizeof(m1), p->gen[g].max_ns),
				text__duration(m2, sizeof(m2), p->kernel[g].max_ns));
		}
}

static int replay(const struct report_opts *o, const struct trace *t)
{
	struct output_opts oo = { .format = o->format ? o->format : &text_sink,
				  .path = o->output, .cfg = o->cfg };
	struct py_stack *st = malloc(sizeof(*st));
	int *map = calloc(t->procs.nr + 1, sizeof(*map));
	__u64 wall = trace_filter__wall_ns(&o->filter, t);
	struct outputs out;
	struct totals tot;
	bool opened = false;
	int i, err;

	totals__init(&tot, false, NULL);
	/* No -f: the views alone (text without its events); -f text: every event. */
	oo.cfg.quiet = !o->format;
	oo.cfg.live = false;
	err = st && map ? build_totals(&tot, t, &o->filter, map) : -ENOMEM;
	if (!err)
		opened = !(err = outputs__open(&out, &oo, &tot));
	else
		p_err("cannot report: out of memory");
	for (i = 0; !err && i < t->events.nr; i++) {
		const struct rec_event *ev = &t->events.items[i];
		struct sink_event sev = { .e = &ev->e };

		if (map[ev->proc] < 0 || !trace_filter__event(&o->filter, t, ev))
			continue;
		sev.proc = &tot.procs.items[map[ev->proc]];
		sev.build = ev->build >= 0 ? t->builds.items[ev->build] : NULL;
		sev.stack = trace__stack(ev, st);
		if (account(&tot.procs.items[map[ev->proc]], &ev->e)) {
			p_err("cannot report: out of memory");
			err = -ENOMEM;
			break;
		}
		outputs__event(&out, &sev);
		/* a long trace: written out as it goes, not held */
		if (!(i & 1023))
			err = outputs__flush(&out);
	}
	if (opened) {
		memcpy(tot.counters, t->counters, sizeof(tot.counters));
		if (err)
			outputs__close(&out, NULL, 0);
		else
			err = outputs__close(&out, &tot, wall);
		if (!err)
			missing_note(out.human_f ? out.human_f : stderr, &tot, &o->filter);
	}
	totals__free(&tot);
	free(map);
	free(st);
	return err ? 1 : 0;
}

int report__main(int argc, char **argv)
{
	static const struct argp argp = { report_options, report_arg, "FILE.jsonl...",
					  "Every at-exit view of traces saved with -f jsonl "
					  "(several files: merged).\v"
					  "Examples:\n"
					  "  gcbpf report --stats --advice gc.jsonl\n"
					  "  gcbpf report -f folded -o gc.folded gc.jsonl\n"
					  "  gcbpf report --html -o gc.html host1.jsonl host2.jsonl\n",
					  NULL, NULL, NULL };
	struct report_opts o = { .filter = { .gen = -1 } };
	struct trace t;
	int i, ret;

	argv[0] = "gcbpf report";	/* what argp's messages name */
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &o))
		return 2;
	trace__init(&t);
	for (i = 0; i < o.nr_files; i++)
		if (trace__read(&t, o.files[i])) {
			trace__free(&t);
			return 1;
		}
	ret = replay(&o, &t);
	fflush(stdout);
	trace__free(&t);
	return ret;
}
