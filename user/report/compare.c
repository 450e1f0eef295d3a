// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf compare BEFORE.jsonl AFTER.jsonl: per service (or pid, command line)
 * and generation, what changed: collections per second, p50/p90/p99, the
 * median shift, max and GC share, each change with its 95% interval
 * (stats.h) and a verdict: better, worse, or no significant change (the
 * interval holds 0, or the change is below --min-change). Lower is better
 * for every metric. --fail-if makes a change an exit status for CI.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/compare.h"
#include "report/report.h"
#include "report/stats.h"
#include "out/json_writer.h"
#include "out/outfile.h"
#include "util/log.h"
#include "util/text.h"

#define MAX_FAIL_IF 16

enum group_by { BY_SERVICE, BY_PID, BY_CMDLINE };

struct compare_opts {
	char *files[2];
	int nr_files;
	enum group_by by;
	struct trace_filter filter;
	bool jsonl;
	const char *output;
	double min_change;	/* a fraction: changes smaller are not called */
	double run_noise;	/* a fraction: one run's own spread of its pause metrics */
	__u64 seed;
	int resamples;
	int stacks;		/* --stacks[=N]: the N trigger sites that changed most, 0: none */
	struct fail_if fail_if[MAX_FAIL_IF];
	int nr_fail_if;
};

enum {
	OPT_BY = 0x100,
	OPT_GEN,
	OPT_SERVICE,
	OPT_MATCH,
	OPT_FAIL_IF,
	OPT_MIN_CHANGE,
	OPT_RUN_NOISE,
	OPT_SEED,
	OPT_RESAMPLES,
	OPT_STACKS,
};

static const struct argp_option compare_options[] = {
	{ "by", OPT_BY, "service|pid|cmdline", 0, "Rows per service (default), pid or command line",
	  0 },
	{ "gen", OPT_GEN, "N", 0, "Only generation N", 0 },
	{ "service", OPT_SERVICE, "PATTERN", 0, "Only services matching the glob", 0 },
	{ "match", OPT_MATCH, "PATTERN", 0, "Only command lines matching the glob", 0 },
	{ "format", 'f', "text|jsonl", 0, "text (default) or jsonl: a record per row and metric", 0 },
	{ "output", 'o', "FILE", 0, "Write to FILE", 0 },
	{ "fail-if", OPT_FAIL_IF, "COND", 0,
	  "Exit 1 when a significant change meets COND: [genN.]METRIC(>|<)[+-]N%, e.g. 'p99>+10%', "
	  "'gen2.p50>+5%', 'rate>+20%' (METRIC: rate p50 p90 p99 shift max share)", 1 },
	{ "min-change", OPT_MIN_CHANGE, "PCT", 0,
	  "Changes smaller than PCT% are no significant change (default 10)", 1 },
	{ "run-noise", OPT_RUN_NOISE, "PCT", 0,
	  "How much one run's pause metrics differ from another's of the same workload, as a "
	  "standard deviation (default 12, measured in A/A runs; 0: trust each run alone)", 1 },
	{ "stacks", OPT_STACKS, "N", OPTION_ARG_OPTIONAL,
	  "The N (default 10) trigger sites whose GC time per second changed most", 1 },
	{ "seed", OPT_SEED, "N", 0, "The bootstrap's seed (default 1: reproducible)", 1 },
	{ "resamples", OPT_RESAMPLES, "N", 0, "Bootstrap resamples (default 2000)", 1 },
	{},
};

static error_t compare_arg(int key, char *arg, struct argp_state *state)
{
	struct compare_opts *o = state->input;
	char *end;
	double v;

	switch (key) {
	case OPT_BY:
		if (!strcmp(arg, "service"))
			o->by = BY_SERVICE;
		else if (!strcmp(arg, "pid"))
			o->by = BY_PID;
		else if (!strcmp(arg, "cmdline"))
			o->by = BY_CMDLINE;
		else {
			p_err("unknown --by '%s': expected service, pid or cmdline", arg);
			argp_usage(state);
		}
		break;
	case OPT_GEN:
		if (trace_filter__set_gen(&o->filter, arg))
			argp_usage(state);
		break;
	case OPT_SERVICE:
		o->filter.service = arg;
		break;
	case OPT_MATCH:
		o->filter.match = arg;
		break;
	case 'f':
		if (strcmp(arg, "text") && strcmp(arg, "jsonl") && strcmp(arg, "json")) {
			p_err("unknown compare format '%s': expected text or jsonl", arg ?: "");
			argp_usage(state);
		}
		o->jsonl = strcmp(arg, "text");
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_FAIL_IF:
		if (o->nr_fail_if == MAX_FAIL_IF ||
		    compare__parse_fail_if(arg, &o->fail_if[o->nr_fail_if])) {
			p_err("invalid --fail-if '%s': expected [genN.]METRIC(>|<)[+-]N%% with METRIC "
			      "rate, p50, p90, p99, shift, max or share, e.g. 'p99>+10%%' (at most %d)",
			      arg, MAX_FAIL_IF);
			argp_usage(state);
		}
		o->nr_fail_if++;
		break;
	case OPT_MIN_CHANGE:
		errno = 0;
		v = strtod(arg, &end);
		if (errno || end == arg || (*end && strcmp(end, "%")) || !(v >= 0) || v > 1000) {
			p_err("invalid --min-change '%s': expected a percentage, e.g. 5", arg);
			argp_usage(state);
		}
		o->min_change = v / 100;
		break;
	case OPT_RUN_NOISE:
		errno = 0;
		v = strtod(arg, &end);
		if (errno || end == arg || (*end && strcmp(end, "%")) || !(v >= 0) || v > 100) {
			p_err("invalid --run-noise '%s': expected a percentage, e.g. 12", arg);
			argp_usage(state);
		}
		o->run_noise = v / 100;
		break;
	case OPT_SEED:
		errno = 0;
		o->seed = strtoull(arg, &end, 0);
		if (errno || end == arg || *end) {
			p_err("invalid --seed '%s': expected a number", arg);
			argp_usage(state);
		}
		break;
	case OPT_RESAMPLES:
		o->resamples = strtol(arg, &end, 10);
		if (*end || end == arg || o->resamples < 100 || o->resamples > 1000000) {
			p_err("invalid --resamples '%s': expected 100 to 1000000", arg);
			argp_usage(state);
		}
		break;
	case OPT_STACKS:
		o->stacks = arg ? strtol(arg, &end, 10) : 10;
		if (arg && (*end || end == arg || o->stacks < 1 || o->stacks > 10000)) {
			p_err("invalid --stacks '%s': expected a number of sites, 1 to 10000", arg);
			argp_usage(state);
		}
		break;
	case ARGP_KEY_ARG:
		if (o->nr_files == 2) {
			p_err("gcbpf compare takes two traces, BEFORE and AFTER ('%s' is a third; merge "
			      "several with gcbpf report -f jsonl -o FILE A B)", arg);
			argp_usage(state);
		}
		o->files[o->nr_files++] = arg;
		break;
	case ARGP_KEY_END:
		if (o->nr_files != 2) {
			p_err("gcbpf compare needs two traces: gcbpf compare BEFORE.jsonl AFTER.jsonl");
			argp_usage(state);
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* One row's key: its service, pid or command line. */
static void key_of(const struct compare_opts *o, const struct rec_proc *p, char *buf, size_t len)
{
	if (o->by == BY_PID)
		snprintf(buf, len, "%d", p->pid);
	else if (o->by == BY_CMDLINE)
		snprintf(buf, len, "%s", p->id.cmdline[0] ? p->id.cmdline : p->comm);
	else
		snprintf(buf, len, "%s", p->id.service);
}

static struct cmp_group *group_of(struct cmp_groups *gs, const char *key, int gen)
{
	struct cmp_group *g;
	int i;

	for (i = gs->nr - 1; i >= 0; i--)
		if (gs->items[i].gen == gen && !strcmp(gs->items[i].key, key))
			return &gs->items[i];
	g = vec_push(gs);
	if (!g)
		return NULL;
	snprintf(g->key, sizeof(g->key), "%s", key);
	g->gen = gen;
	return g;
}

/* The time window of its file's span an event started in. */
static int bin_of(const struct trace *t, const struct rec_event *ev)
{
	const struct rec_file *f = &t->files.items[t->procs.items[ev->proc].file];
	__u64 span = f->last_ns - f->first_ns + 1;

	return (int)((double)(ev->e.ts_start - f->first_ns) / span * CMP_BINS);
}

/* Each kept event's pause into its row's sample of side s. */
static int collect(const struct compare_opts *o, const struct trace *t, int s,
		   struct cmp_groups *gs)
{
	char key[IDENTITY_CMDLINE_LEN];
	int i;

	for (i = 0; i < t->events.nr; i++) {
		const struct rec_event *ev = &t->events.items[i];
		const struct rec_proc *p = &t->procs.items[ev->proc];
		struct cmp_group *g;
		__u64 *slot;

		if (!trace_filter__proc(&o->filter, p) || !trace_filter__event(&o->filter, t, ev))
			continue;
		key_of(o, p, key, sizeof(key));
		g = group_of(gs, key, ev->e.gen);
		slot = g ? vec_push(&g->d[s]) : NULL;
		if (!slot)
			return -ENOMEM;
		*slot = ev->e.ts_stop - ev->e.ts_start;
		g->sum[s] += *slot;
		g->bins[s][bin_of(t, ev)] += *slot;
	}
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	__u64 a = *(const __u64 *)x, b = *(const __u64 *)y;

	return (a > b) - (a < b);
}

static int cmp_group(const void *x, const void *y)
{
	const struct cmp_group *a = x, *b = y;
	int c = strcmp(a->key, b->key);

	return c ? c : a->gen - b->gen;
}

/* The verdict of a change with its interval (both relative); lower is better. */
static const char *verdict(const struct compare_opts *o, const struct cmp_metric *m)
{
	if (m->too_few)
		return "too few";
	if (!m->has_ci)
		return "-";
	if (m->lo > 0 && m->change >= o->min_change)
		return "worse";
	if (m->hi < 0 && m->change <= -o->min_change)
		return "better";
	return "no significant change";
}

/*
 * A pause metric's interval from one run per side sees only the spread
 * within each run. Two runs of the same workload also differ as a whole
 * (placement, memory layout, the machine's other load): in A/A runs here
 * p90s of 16k collections differed by up to 31% with intervals of +-8%.
 * That run-to-run spread (--run-noise, a standard deviation per run) is
 * added to the interval's half-widths in quadrature, for the difference of
 * two runs: 1.96 * sqrt(2) * noise. Rates are counts of what the program
 * did and get none.
 */
static void with_run_noise(const struct compare_opts *o, struct cmp_metric *m)
{
	double w = 1.959964 * M_SQRT2 * o->run_noise;

	if (!m->has_ci || m->too_few || !w)
		return;
	m->lo = m->change - sqrt((m->change - m->lo) * (m->change - m->lo) + w * w);
	m->hi = m->change + sqrt((m->hi - m->change) * (m->hi - m->change) + w * w);
}

/* The metrics of one row (both sides non-empty). */
static int row_metrics(const struct compare_opts *o, struct cmp_group *g, const double wall[2],
		       struct stats_rng *rng, struct cmp_metric *m)
{
	static const double qs[3] = { 0.50, 0.90, 0.99 };
	static const char *const qnames[3] = { "p50", "p90", "p99" };
	static const double beyond[3] = { 5, 10, 10 };
	const __u64 *a = g->d[0].items, *b = g->d[1].items;
	size_t na = g->d[0].nr, nb = g->d[1].nr;
	int n = 0, i;

	/* collections per second */
	m[n] = (struct cmp_metric){ .name = "rate", .method = "poisson", .has_ci = true,
				    .before = na / wall[0], .after = nb / wall[1] };
	stats__rate_ratio(na, wall[0], nb, wall[1], &m[n].change, &m[n].lo, &m[n].hi);
	m[n].change -= 1;
	m[n].lo -= 1;
	m[n].hi -= 1;
	n++;
	for (i = 0; i < 3; i++) {
		double lo, hi, before = stats__quantile(a, na, qs[i]);

		m[n] = (struct cmp_metric){ .name = qnames[i], .method = "bootstrap", .ns = true,
					    .has_ci = true, .before = before,
					    .after = stats__quantile(b, nb, qs[i]) };
		/* the interval of a quantile needs values beyond it on each side: 5 for
		 * the median, 10 for a tail (with 5, a p90 of 75 gen-1 pauses swung by
		 * +53% between A/A runs) */
		m[n].too_few = na * (1 - qs[i]) < beyond[i] - 1e-9 ||
			       nb * (1 - qs[i]) < beyond[i] - 1e-9;
		m[n].change = before ? m[n].after / before - 1 : 0;
		if (!m[n].too_few && before) {
			stats__quantile_diff_ci(a, na, b, nb, qs[i], o->resamples, rng, &lo, &hi);
			m[n].lo = lo / before;
			m[n].hi = hi / before;
		}
		n++;
	}
	/* the median shift: Hodges-Lehmann, relative to the median before */
	m[n] = (struct cmp_metric){ .name = "shift", .method = "hodges-lehmann", .ns = true,
				    .has_ci = true, .before = m[1].before, .too_few = na < 10 || nb < 10 };
	if (!m[n].too_few && m[1].before) {
		double est, lo, hi;

		stats__hodges_lehmann(a, na, b, nb, &est, &lo, &hi);
		m[n].after = m[1].before + est;
		m[n].change = est / m[1].before;
		m[n].lo = lo / m[1].before;
		m[n].hi = hi / m[1].before;
	} else {
		m[n].after = m[1].after;
		m[n].change = m[1].change;
	}
	n++;
	m[n] = (struct cmp_metric){ .name = "max", .method = "none", .ns = true,
				    .before = a[na - 1], .after = b[nb - 1] };
	m[n].change = m[n].after / m[n].before - 1;
	n++;
	m[n] = (struct cmp_metric){ .name = "share", .method = "bootstrap", .has_ci = true,
				    .before = g->sum[0] / wall[0] / 1e9,
				    .after = g->sum[1] / wall[1] / 1e9, .too_few = na < 10 || nb < 10 };
	m[n].change = m[n].before ? m[n].after / m[n].before - 1 : 0;
	if (!m[n].too_few && m[n].before) {
		double lo, hi;

		stats__share_diff_ci(g->bins[0], wall[0] * 1e9, g->bins[1], wall[1] * 1e9, CMP_BINS,
				     o->resamples, rng, &lo, &hi);
		m[n].lo = lo / m[n].before;
		m[n].hi = hi / m[n].before;
	}
	n++;
	for (i = 0; i < n; i++) {
		if (m[i].ns || !strcmp(m[i].name, "share"))
			with_run_noise(o, &m[i]);
		m[i].verdict = verdict(o, &m[i]);
	}
	return n;
}

int compare__main(int argc, char **argv)
{
	static const struct argp argp = {
		compare_options, compare_arg, "BEFORE.jsonl AFTER.jsonl",
		"What changed between two traces saved with -f jsonl: per service and generation, "
		"rates and pauses with 95% confidence intervals and a verdict.\v"
		"Examples:\n"
		"  gcbpf compare before.jsonl after.jsonl\n"
		"  gcbpf compare --fail-if 'p99>+10%' --fail-if 'share>+10%' base.jsonl pr.jsonl\n"
		"  gcbpf compare -f jsonl --by pid before.jsonl after.jsonl\n",
		NULL, NULL, NULL };
	struct compare_opts o = { .filter = { .gen = -1 }, .min_change = 0.10, .run_noise = 0.12, .seed = 1,
				  .resamples = 2000 };
	struct cmp_side side[2] = {};
	struct cmp_groups groups = {};
	struct stats_rng rng;
	struct outfile out = {};
	FILE *f = stdout;
	int i, s, ret = 2, failed = 0;	/* 2: bad input or a write error; 1: a --fail-if held */

	argv[0] = "gcbpf compare";
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &o))
		return 2;
	for (s = 0; s < 2; s++) {
		trace__init(&side[s].t);
		side[s].path = o.files[s];
		if (trace__read(&side[s].t, o.files[s]))
			goto out;
		side[s].wall_s = trace_filter__wall_ns(&o.filter, &side[s].t) / 1e9;
		if (!(side[s].wall_s > 0)) {
			p_err("%s covers no time (no collections and no wall time): nothing to "
			      "compare", o.files[s]);
			goto out;
		}
		if (collect(&o, &side[s].t, s, &groups)) {
			p_err("cannot compare: out of memory");
			goto out;
		}
	}
	if (groups.nr)
		qsort(groups.items, groups.nr, sizeof(groups.items[0]), cmp_group);
	if (o.output && strcmp(o.output, "-")) {
		if (outfile__open(&out, o.output))
			goto out;
		f = out.f;
	}
	stats__seed(&rng, o.seed);
	compare__header(f, o.jsonl, side, o.min_change, o.run_noise, o.resamples, o.seed);
	for (i = 0; i < groups.nr; i++) {
		struct cmp_group *g = &groups.items[i];
		const double wall[2] = { side[0].wall_s, side[1].wall_s };
		struct cmp_metric m[CMP_METRICS];
		int n = 0;

		for (s = 0; s < 2; s++)
			if (g->d[s].nr)
				qsort(g->d[s].items, g->d[s].nr, sizeof(__u64), cmp_u64);
		if (g->d[0].nr && g->d[1].nr)
			n = row_metrics(&o, g, wall, &rng, m);
		compare__print_row(f, o.jsonl, o.by == BY_PID ? "pid" : o.by == BY_CMDLINE ?
				   "cmdline" : "service", g, m, n);
		failed += compare__check_fail_if(o.fail_if, o.nr_fail_if, g, m, n);
	}
	if (o.stacks)
		compare__stacks(f, o.jsonl, side, o.stacks, o.min_change);
	compare__footer(f, o.jsonl, &groups, failed);
	ret = failed ? 1 : 0;
	if (out.f && outfile__close(&out))
		ret = 2;
	else if (!out.f && (fflush(stdout) || ferror(stdout)))
		ret = 2;
out:
	for (s = 0; s < 2; s++)
		trace__free(&side[s].t);
	for (i = 0; i < groups.nr; i++) {
		vec_free(&groups.items[i].d[0]);
		vec_free(&groups.items[i].d[1]);
	}
	vec_free(&groups);
	return ret;
}
