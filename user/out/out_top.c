// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf top: a live, refreshing terminal view (ncurses) of every traced
 * process, sorted by GC share of wall time (re-sortable), with the selected
 * process's pauses since start, its thresholds, advice and, with --stacks,
 * its top trigger sites (stack_agg's ranking, as --by-stack). Fits 80x24.
 * Redrawn at each report (every second) and at each key. This file: the
 * sink (rows from reports, trigger sites from events, keys); the screen:
 * out_top_view.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curses.h>
#include "out/out_top.h"
#include "trace/hdr.h"
#include "util/log.h"

/* The log hook: kept, drawn at the next redraw (top_idle), never written over the screen. */
static void top_message(void *ctx, const char *line)
{
	top_messages__add(&((struct top_out *)ctx)->msgs, line);
}

static int top_start(struct sink *s)
{
	struct top_out *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	s->priv = t;
	t->sites = s->cfg->by_stack;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		p_err("gcbpf top needs a terminal (stdin and stdout); for a log use "
		      "gcbpf --stats -i 1 instead");
		return -ENOTTY;
	}
	if (!initscr()) {
		p_err("gcbpf top: cannot set up the terminal (TERM=%s)", getenv("TERM") ?: "");
		return -ENOTTY;
	}
	t->screen = true;
	log__capture(top_message, t);
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	top__draw(t);
	return 0;
}

static int by_key(const void *x, const void *y, void *ctx)
{
	const struct top_row *a = x, *b = y;
	enum top_sort k = *(enum top_sort *)ctx;
	double ra = a->rate[0] + a->rate[1] + a->rate[2], rb = b->rate[0] + b->rate[1] + b->rate[2];

	switch (k) {
	case SORT_SHARE:
		return (a->share < b->share) - (a->share > b->share);
	case SORT_MAX:
		return (a->max < b->max) - (a->max > b->max);
	case SORT_RATE:
		return (ra < rb) - (ra > rb);
	case SORT_SERVICE:
		return strcmp(a->who, b->who);
	default:
		return (a->pid > b->pid) - (a->pid < b->pid);
	}
}

static void sort_rows(struct top_out *t)
{
	/* a message redraws the screen before the first report: no rows yet */
	if (t->nr)
		qsort_r(t->rows, t->nr, sizeof(*t->rows), by_key, &t->sort);
}

int top__selected_index(struct top_out *t)
{
	int i;

	for (i = 0; i < t->nr; i++)
		if (t->rows[i].pid == t->selected)
			return i;
	return t->nr ? 0 : -1;
}

struct top_stacks *top__stacks_of(struct top_out *t, pid_t pid)
{
	int i;

	if (t->last_stacks < t->stacks.nr && t->stacks.items[t->last_stacks].pid == pid)
		return &t->stacks.items[t->last_stacks];
	for (i = 0; i < t->stacks.nr; i++)
		if (t->stacks.items[i].pid == pid) {
			t->last_stacks = i;
			return &t->stacks.items[i];
		}
	return NULL;
}

static void forget_stacks(struct top_out *t, const struct totals *tot);

static void top_report(struct sink *s, const struct sink_report *r)
{
	struct top_out *t = s->priv;
	struct pause_rows all;
	struct top_row *rows;
	int i, j, n = 0, g;

	if (!t->screen)
		return;
	rows = calloc(r->rows->nr + 1, sizeof(*rows));
	if (!rows || totals__rows(r->totals, false, &all)) {
		free(rows);
		return;
	}
	/* the last interval's rows, per process */
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];
		struct top_row *x;

		if (!row->proc)
			break;
		if (row->gen >= 0) {
			if (!n || rows[n - 1].pid != row->proc->pid) {
				x = &rows[n++];
				x->pid = row->proc->pid;
			}
			rows[n - 1].rate[row->gen] = r->wall_ns ? row->t.count * 1e9 / r->wall_ns : 0;
			continue;
		}
		x = &rows[n - 1];
		snprintf(x->who, sizeof(x->who), "%s",
			 row->proc->id.unit[0] ? row->proc->id.unit : row->proc->id.short_cmd);
		x->share = r->wall_ns ? (double)row->t.sum_ns / r->wall_ns : 0;
		x->p50 = row->hist ? hdr__percentile(row->hist, 0.50) : 0;
		x->p99 = row->hist ? hdr__percentile(row->hist, 0.99) : 0;
		x->max = row->t.max_ns;
		x->heap = row->proc->heap_size >= 0 ? row->proc->heap_size
						   : row->proc->long_lived_total;
		x->live = !row->proc->exited_ns;
		x->rss = row->proc->rss;
		x->gc = row->proc->gc;
	}
	/* since start, for the same processes */
	for (i = 0; i < all.nr; i++) {
		const struct pause_row *row = &all.rows[i];

		if (!row->proc || row->gen < 0)
			continue;
		for (j = 0; j < n; j++) {
			if (rows[j].pid != row->proc->pid)
				continue;
			g = row->gen;
			rows[j].all_count[g] = row->t.count;
			rows[j].all_sum[g] = row->t.sum_ns;
			rows[j].all_max[g] = row->t.max_ns;
			rows[j].all_p50[g] = row->hist ? hdr__percentile(row->hist, 0.50) : 0;
			rows[j].all_p99[g] = row->hist ? hdr__percentile(row->hist, 0.99) : 0;
		}
	}
	free(t->rows);
	t->rows = rows;
	t->nr = n;
	t->reported = true;
	t->lost = r->totals->counters[GC_CNT_LOST];
	t->inside = r->totals->inside;
	forget_stacks(t, r->totals);
	t->wall_ns = r->wall_ns;
	sort_rows(t);
	i = top__selected_index(t);
	advice__free(&t->advice);
	if (i >= 0) {
		/* Until j/k pick one (or once it is gone), the first row: not pinned to
		 * whichever process happened to collect first. */
		if (t->rows[i].pid != t->selected)
			t->selected = 0;
		for (j = 0; j < r->totals->procs.nr; j++)
			if (r->totals->procs.items[j].pid == t->rows[i].pid &&
			    !r->totals->procs.items[j].retired)
				advice__for_process(&t->advice, &r->totals->procs.items[j], &all,
						    r->run_ns);
	}
	pause_rows__free(&all);
	top__draw(t);
}

/* --stacks: each collection to its process's trigger sites. */
static void top_event(struct sink *s, const struct sink_event *ev)
{
	struct top_out *t = s->priv;
	struct top_stacks *ts;

	if (!t || !t->sites || !ev->stack)
		return;
	ts = top__stacks_of(t, ev->e->pid);
	if (!ts) {
		ts = vec_push(&t->stacks);
		if (!ts)
			return;
		ts->pid = ev->e->pid;
		stack_agg__init(&ts->agg, false);	/* count, sum, max: no percentiles */
		t->last_stacks = t->stacks.nr - 1;
	}
	stack_agg__add(&ts->agg, ev->stack, ev->e->gen, ev->e->ts_stop - ev->e->ts_start);
}

/* The sites of processes the totals retired (or never had) are dropped: memory stays bounded. */
static void forget_stacks(struct top_out *t, const struct totals *tot)
{
	int i, j, keep = 0;

	for (i = 0; i < t->stacks.nr; i++) {
		bool live = false;

		for (j = 0; j < tot->procs.nr && !live; j++)
			live = tot->procs.items[j].pid == t->stacks.items[i].pid &&
			       !tot->procs.items[j].retired;
		if (live)
			t->stacks.items[keep++] = t->stacks.items[i];
		else
			stack_agg__free(&t->stacks.items[i].agg);
	}
	t->stacks.nr = keep;
	t->last_stacks = 0;
}

/* Keys, between reports: re-sort, select, quit. */
static bool top_idle(struct sink *s)
{
	struct top_out *t = s->priv;
	int ch, i;
	bool redraw = false;

	if (!t || !t->screen)
		return false;
	while ((ch = getch()) != ERR) {
		switch (ch) {
		case 'q':
		case 'Q':
			t->quit = true;
			break;
		case 'g':
			t->sort = SORT_SHARE;
			break;
		case 'm':
			t->sort = SORT_MAX;
			break;
		case 'c':
			t->sort = SORT_RATE;
			break;
		case 'p':
			t->sort = SORT_PID;
			break;
		case 's':
			t->sort = SORT_SERVICE;
			break;
		case KEY_UP:
		case KEY_DOWN:
		case 'k':
		case 'j':
			i = top__selected_index(t) + (ch == KEY_DOWN || ch == 'j' ? 1 : -1);
			if (i >= 0 && i < t->nr)
				t->selected = t->rows[i].pid;
			break;
		case KEY_RESIZE:
			break;
		default:
			continue;
		}
		redraw = true;
	}
	if (t->msgs.nr != t->msgs.drawn)
		redraw = true;	/* a message since the last draw */
	if (redraw && !t->quit) {
		sort_rows(t);
		top__draw(t);
	}
	return t->quit;
}

static void top_finish(struct sink *s, const struct sink_report *r)
{
	struct top_out *t = s->priv;

	if (t && t->screen) {
		endwin();
		log__capture(NULL, NULL);
		t->screen = false;
		/* what the screen showed is gone with it: said again where it stays */
		top_messages__flush(&t->msgs, stderr);
	}
}

static void top_free(struct sink *s)
{
	struct top_out *t = s->priv;
	int i;

	top_finish(s, NULL);
	if (t) {
		free(t->rows);
		advice__free(&t->advice);
		for (i = 0; i < t->stacks.nr; i++)
			stack_agg__free(&t->stacks.items[i].agg);
		vec_free(&t->stacks);
		top_messages__free(&t->msgs);
	}
	free(t);
	s->priv = NULL;
}

const struct sink_ops top_sink = {
	.name = "top",
	.start = top_start,
	.event = top_event,
	.report = top_report,
	.idle = top_idle,
	.finish = top_finish,
	.free = top_free,
};
