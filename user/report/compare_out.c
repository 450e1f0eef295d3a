// SPDX-License-Identifier: GPL-2.0
/* gcbpf compare's output (a table, or a JSON record per row and metric), --fail-if, --stacks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report/compare.h"
#include "report/stats.h"
#include "out/json_writer.h"
#include "trace/stack_agg.h"
#include "util/text.h"

static struct {
	int rows, better, worse, one_sided;
} tally;

int compare__parse_fail_if(const char *text, struct fail_if *c)
{
	static const char *const metrics[] = { "rate", "p50", "p90", "p99", "shift", "max",
					       "share" };
	const char *p = text;
	char *end;
	size_t i, len;

	memset(c, 0, sizeof(*c));
	snprintf(c->text, sizeof(c->text), "%s", text);
	c->gen = -1;
	if (!strncmp(p, "gen", 3) && p[3] >= '0' && p[3] <= '2' && p[4] == '.') {
		c->gen = p[3] - '0';
		p += 5;
	}
	len = strcspn(p, "<>");
	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (strlen(metrics[i]) == len && !strncmp(p, metrics[i], len))
			break;
	if (i == sizeof(metrics) / sizeof(metrics[0]) || !p[len])
		return -1;
	snprintf(c->metric, sizeof(c->metric), "%s", metrics[i]);
	c->greater = p[len] == '>';
	p += len + 1;
	c->bound = strtod(p, &end) / 100;
	if (end == p || strcmp(end, "%") || !isfinite(c->bound))
		return -1;
	return 0;
}

int compare__check_fail_if(const struct fail_if *c, int nr, const struct cmp_group *g,
			   const struct cmp_metric *m, int n)
{
	int i, j, held = 0;

	for (i = 0; i < nr; i++) {
		if (c[i].gen >= 0 && c[i].gen != g->gen)
			continue;
		for (j = 0; j < n; j++) {
			/* a change the interval confirms (max has none: its value) */
			bool called = !strcmp(m[j].verdict, "better") || !strcmp(m[j].verdict, "worse") ||
				      !m[j].has_ci;

			if (strcmp(m[j].name, c[i].metric) || !called)
				continue;
			if (c[i].greater ? m[j].change > c[i].bound : m[j].change < c[i].bound) {
				fprintf(stderr, "gcbpf: --fail-if '%s' holds: %s gen %d: %s %+.1f%% "
					"(%s)\n", c[i].text, g->key, g->gen, m[j].name,
					100 * m[j].change, m[j].verdict);
				held++;
			}
		}
	}
	return held;
}

static void pct(char *buf, size_t len, double v)
{
	if (isinf(v))
		snprintf(buf, len, v > 0 ? "+inf" : "-inf");
	else
		snprintf(buf, len, "%+.1f%%", 100 * v);
}

static void value(char *buf, size_t len, const struct cmp_metric *m, double v)
{
	if (m->ns)
		text__duration(buf, len, (__u64)(v + 0.5));
	else if (!strcmp(m->name, "share"))
		snprintf(buf, len, "%.3f%%", 100 * v);
	else
		snprintf(buf, len, "%.2f/s", v);
}

void compare__header(FILE *f, bool jsonl, const struct cmp_side side[2], double min_change,
		     double run_noise, int resamples, __u64 seed)
{
	struct json_writer w;

	memset(&tally, 0, sizeof(tally));
	if (jsonl) {
		jw_init(&w, f);
		jw_start_object(&w);
		jw_string_field(&w, "type", "compare_start");
		jw_string_field(&w, "before", side[0].path);
		jw_float_field(&w, "before_wall_s", side[0].wall_s, 3);
		jw_string_field(&w, "after", side[1].path);
		jw_float_field(&w, "after_wall_s", side[1].wall_s, 3);
		jw_float_field(&w, "min_change", min_change, 4);
		jw_float_field(&w, "run_noise", run_noise, 4);
		jw_int_field(&w, "resamples", resamples);
		jw_uint_field(&w, "seed", seed);
		jw_end_object(&w);
		jw_end_line(&w);
		return;
	}
	fprintf(f, "BEFORE %s (%.1f s)  AFTER %s (%.1f s)\n", side[0].path, side[0].wall_s,
		side[1].path, side[1].wall_s);
	fprintf(f, "Changes with 95%% intervals (rate: Poisson; p50/p90/p99: bootstrap; share: "
		"bootstrap of %d time windows; %d resamples, seed %llu; shift: Hodges-Lehmann; "
		"pauses and share widened by a run-to-run spread of %.0f%%); lower is better; "
		"changes below %.0f%% are no significant change.\n\n", CMP_BINS, resamples,
		(unsigned long long)seed, 100 * run_noise, 100 * min_change);
	fprintf(f, "%-20s %3s %-6s %10s %10s %8s  %-20s %s\n", "KEY", "GEN", "METRIC", "BEFORE",
		"AFTER", "CHANGE", "95% CI", "VERDICT");
}

/* A number, or null where it is infinite (a rate from zero). */
#define json_num(w, name, v, digits)					\
	do {								\
		if (isfinite(v))					\
			jw_float_field(w, name, v, digits);		\
		else							\
			jw_null_field(w, name);				\
	} while (0)

void compare__print_row(FILE *f, bool jsonl, const char *by, const struct cmp_group *g,
			const struct cmp_metric *m, int n)
{
	char key[4 * 21], b[24], a[24], c[16], lo[16], hi[16], ci[40];
	struct json_writer w;
	int i;

	tally.rows++;
	if (jsonl)
		jw_init(&w, f);
	if (!n) {
		int s = g->d[0].nr ? 0 : 1;

		tally.one_sided++;
		if (jsonl) {
			jw_start_object(&w);
			jw_string_field(&w, "type", "compare");
			jw_string_field(&w, "by", by);
			jw_string_field(&w, "key", g->key);
			jw_int_field(&w, "gen", g->gen);
			jw_string_field(&w, "only", s ? "after" : "before");
			jw_uint_field(&w, "count", g->d[s].nr);
			jw_end_object(&w);
			jw_end_line(&w);
		} else {
			fprintf(f, "%-20s %3d only %s: %d collections\n",
				text__escape(key, sizeof(key), g->key, 20), g->gen,
				s ? "AFTER" : "BEFORE", g->d[s].nr);
		}
		return;
	}
	for (i = 0; i < n; i++) {
		tally.better += !strcmp(m[i].verdict, "better");
		tally.worse += !strcmp(m[i].verdict, "worse");
		if (jsonl) {
			jw_start_object(&w);
			jw_string_field(&w, "type", "compare");
			jw_string_field(&w, "by", by);
			jw_string_field(&w, "key", g->key);
			jw_int_field(&w, "gen", g->gen);
			jw_string_field(&w, "metric", m[i].name);
			json_num(&w, "before", m[i].before, m[i].ns ? 0 : 6);
			json_num(&w, "after", m[i].after, m[i].ns ? 0 : 6);
			json_num(&w, "change", m[i].change, 6);
			if (m[i].has_ci && !m[i].too_few) {
				json_num(&w, "ci_low", m[i].lo, 6);
				json_num(&w, "ci_high", m[i].hi, 6);
			} else {
				jw_null_field(&w, "ci_low");
				jw_null_field(&w, "ci_high");
			}
			jw_string_field(&w, "method", m[i].method);
			jw_string_field(&w, "verdict", m[i].verdict);
			jw_uint_field(&w, "n_before", g->d[0].nr);
			jw_uint_field(&w, "n_after", g->d[1].nr);
			jw_end_object(&w);
			jw_end_line(&w);
			continue;
		}
		value(b, sizeof(b), &m[i], m[i].before);
		value(a, sizeof(a), &m[i], m[i].after);
		pct(c, sizeof(c), m[i].change);
		if (m[i].has_ci && !m[i].too_few) {
			pct(lo, sizeof(lo), m[i].lo);
			pct(hi, sizeof(hi), m[i].hi);
			snprintf(ci, sizeof(ci), "[%s, %s]", lo, hi);
		} else {
			snprintf(ci, sizeof(ci), "-");
		}
		fprintf(f, "%-20s %3d %-6s %10s %10s %8s  %-20s %s\n",
			text__escape(key, sizeof(key), g->key, 20), g->gen, m[i].name, b, a, c, ci,
			m[i].verdict);
	}
}

/* A trigger site's name, outermost frame first (as -f folded names it). */
struct site_sum {
	char *name;
	int side;
	__u64 count, sum_ns;
};

static int by_name(const void *x, const void *y)
{
	const struct site_sum *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : a->side - b->side;
}

struct site_sums {
	struct site_sum *items;
	int nr, cap;
};

struct site_diff {
	const char *name;
	__u64 count[2], sum_ns[2];
	double delta;		/* GC time per second, after - before (ns/s) */
};

static int by_delta(const void *x, const void *y)
{
	const struct site_diff *a = x, *b = y;
	double da = fabs(a->delta), db = fabs(b->delta);

	return (da < db) - (da > db);
}

/* Every site of side s (its events' stacks) appended to sums. */
static int sites_of(const struct cmp_side *side, int s, struct site_sums *sums)
{
	const struct trace *t = &side->t;
	struct py_stack *st = malloc(sizeof(*st));
	struct stack_agg agg;
	char frame[1024];
	int i, j;

	if (!st)
		return -1;
	stack_agg__init(&agg, false);
	for (i = 0; i < t->events.nr; i++) {
		const struct rec_event *ev = &t->events.items[i];

		stack_agg__add(&agg, trace__stack(ev, st), ev->e.gen, ev->e.ts_stop - ev->e.ts_start);
	}
	for (i = 0; i < agg.nr; i++) {
		const struct stack_site *site = &agg.sites[i];
		struct site_sum *x = vec_push(sums);
		size_t len = 0, cap = 256;
		char *name = malloc(cap);

		if (!x || !name) {
			free(name);
			break;
		}
		name[0] = '\0';
		for (j = site->nr - 1; j >= 0; j--) {
			size_t fl = strlen(stack_agg__frame_name(frame, sizeof(frame),
								 &site->frames[j]));

			if (len + fl + 2 > cap && !(name = realloc(name, cap = 2 * (len + fl + 2))))
				break;
			len += sprintf(name + len, "%s%s", len ? ";" : "", frame);
		}
		x->name = name ? name : strdup("?");
		if (site->unavailable || !site->nr)
			snprintf(x->name, 32, site->unavailable ? "[no stack]" : "[no Python frame]");
		x->side = s;
		x->count = site->count[0] + site->count[1] + site->count[2];
		x->sum_ns = site->sum_ns[0] + site->sum_ns[1] + site->sum_ns[2];
	}
	stack_agg__free(&agg);
	free(st);
	return 0;
}

void compare__stacks(FILE *f, bool jsonl, struct cmp_side side[2], int top, double min_change)
{
	struct site_sums sums = {};
	VEC(struct site_diff) diffs = {};
	struct json_writer w;
	int i, s;

	for (s = 0; s < 2; s++)
		sites_of(&side[s], s, &sums);
	if (sums.nr)
		qsort(sums.items, sums.nr, sizeof(sums.items[0]), by_name);
	for (i = 0; i < sums.nr; i++) {
		struct site_diff *d = diffs.nr && !strcmp(diffs.items[diffs.nr - 1].name,
							   sums.items[i].name) ?
					      &diffs.items[diffs.nr - 1] : vec_push(&diffs);

		if (!d)
			break;
		d->name = sums.items[i].name;
		d->count[sums.items[i].side] += sums.items[i].count;
		d->sum_ns[sums.items[i].side] += sums.items[i].sum_ns;
		d->delta = d->sum_ns[1] / side[1].wall_s - d->sum_ns[0] / side[0].wall_s;
	}
	if (diffs.nr)
		qsort(diffs.items, diffs.nr, sizeof(diffs.items[0]), by_delta);
	if (jsonl)
		jw_init(&w, f);
	else
		fprintf(f, "\nTrigger sites whose GC time per second changed most (%d sites; "
			"collections/s: Poisson 95%% interval):\n", diffs.nr);
	for (i = 0; i < diffs.nr && i < top; i++) {
		const struct site_diff *d = &diffs.items[i];
		const char *leaf = strrchr(d->name, ';') ? strrchr(d->name, ';') + 1 : d->name;
		double est, lo, hi, b = d->sum_ns[0] / side[0].wall_s / 1e6,
			a = d->sum_ns[1] / side[1].wall_s / 1e6;
		const char *v;

		stats__rate_ratio(d->count[0], side[0].wall_s, d->count[1], side[1].wall_s, &est,
				  &lo, &hi);
		v = lo > 1 && est - 1 >= min_change ? "worse" : hi < 1 && est - 1 <= -min_change ?
			"better" : "no significant change";
		if (jsonl) {
			jw_start_object(&w);
			jw_string_field(&w, "type", "compare_site");
			jw_string_field(&w, "stack", d->name);
			json_num(&w, "before_ms_per_s", b, 6);
			json_num(&w, "after_ms_per_s", a, 6);
			jw_uint_field(&w, "count_before", d->count[0]);
			jw_uint_field(&w, "count_after", d->count[1]);
			json_num(&w, "rate_change", est - 1, 6);
			json_num(&w, "rate_ci_low", lo - 1, 6);
			json_num(&w, "rate_ci_high", hi - 1, 6);
			jw_string_field(&w, "verdict", v);
			jw_end_object(&w);
			jw_end_line(&w);
		} else {
			char name[4 * 100], r0[16], r1[16];

			pct(r0, sizeof(r0), lo - 1);
			pct(r1, sizeof(r1), hi - 1);
			fprintf(f, "%2d. %+.3f ms/s (%.3f -> %.3f)  %.1f -> %.1f collections/s [%s, %s] "
				"%s\n    %s\n", i + 1, a - b, b, a, d->count[0] / side[0].wall_s,
				d->count[1] / side[1].wall_s, r0, r1, v,
				text__escape(name, sizeof(name), leaf, 99));
		}
	}
	for (i = 0; i < sums.nr; i++)
		free(sums.items[i].name);
	vec_free(&sums);
	vec_free(&diffs);
}

void compare__footer(FILE *f, bool jsonl, const struct cmp_groups *gs, int failed)
{
	struct json_writer w;

	if (!jsonl) {
		fprintf(f, "\n%d rows: %d changes better, %d worse%s%s\n", tally.rows, tally.better,
			tally.worse, tally.one_sided ? ", some rows on one side only" : "",
			failed ? "; a --fail-if condition holds" : "");
		return;
	}
	jw_init(&w, f);
	jw_start_object(&w);
	jw_string_field(&w, "type", "compare_summary");
	jw_int_field(&w, "rows", tally.rows);
	jw_int_field(&w, "better", tally.better);
	jw_int_field(&w, "worse", tally.worse);
	jw_int_field(&w, "one_sided", tally.one_sided);
	jw_int_field(&w, "failed", failed);
	jw_end_object(&w);
	jw_end_line(&w);
}
