// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf top: a live, refreshing terminal view (ncurses) of every traced
 * process, sorted by GC share of wall time (re-sortable), with the selected
 * process's pauses since start and advice. Fits 80x24. Redrawn at each
 * report (every second) and at each key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curses.h>
#include "advice.h"
#include "hdr.h"
#include "log.h"
#include "sink.h"
#include "text.h"

enum top_sort { SORT_SHARE, SORT_MAX, SORT_RATE, SORT_PID, SORT_SERVICE, SORT_NR };

static const char *const sort_names[SORT_NR] = { "GC%", "max pause", "collections/s", "pid",
						  "service" };

struct top_row {
	pid_t pid;
	char who[IDENTITY_NAME_LEN];	/* unit, else the command */
	double share;		/* pause time over wall time, last interval */
	double rate[3];		/* collections/s per generation, last interval */
	__u64 p50, p99, max;	/* last interval */
	__u64 all_p50[3], all_p99[3], all_max[3], all_count[3], all_sum[3];	/* since start */
	__s64 heap;		/* tracked objects (3.14+) or long-lived, -1 unknown */
	__s64 rss;		/* bytes, -1 unknown */
	bool live;
};

struct top_out {
	struct top_row *rows;
	int nr;
	enum top_sort sort;
	pid_t selected;		/* the selected process, 0: the first */
	__u64 wall_ns;		/* of the last interval */
	__u64 started_ns;	/* CLOCK_MONOTONIC when top started */
	struct advice advice;	/* for the selected process */
	bool quit;
	bool screen;		/* curses is up */
};

/* The last message (Armed ..., warnings): shown on the bottom line, not over the screen. */
static char last_message[512];

static void top_message(const char *line)
{
	snprintf(last_message, sizeof(last_message), "%s", line);
}

static int top_start(struct sink *s)
{
	struct top_out *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	s->priv = t;
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
	log__capture(top_message);
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	mvprintw(0, 0, "gcbpf top: waiting for the first second of collections...");
	refresh();
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
	qsort_r(t->rows, t->nr, sizeof(*t->rows), by_key, &t->sort);
}

static int selected_index(struct top_out *t)
{
	int i;

	for (i = 0; i < t->nr; i++)
		if (t->rows[i].pid == t->selected)
			return i;
	return t->nr ? 0 : -1;
}

static void size_cell(char *buf, size_t len, __s64 v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else if (v < 10000)
		snprintf(buf, len, "%lld", (long long)v);
	else if (v < 10000000)
		snprintf(buf, len, "%lldK", (long long)v / 1000);
	else
		snprintf(buf, len, "%lldM", (long long)v / 1000000);
}

static void draw(struct top_out *t)
{
	int rows = LINES, cols = COLS, i, sel = selected_index(t), list_rows, y, g;
	double share = 0, rate = 0;
	char a[24], b[24], c[24], heap[16], when[16];
	time_t now = time(NULL);
	struct tm tm;

	erase();
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	for (i = 0; i < t->nr; i++) {
		share += t->rows[i].share;
		rate += t->rows[i].rate[0] + t->rows[i].rate[1] + t->rows[i].rate[2];
	}
	mvprintw(0, 0, "gcbpf top %s  %d processes  %.0f collections/s  GC %.2f%% of wall time",
		 when, t->nr, rate, 100 * share);
	mvprintw(1, 0, "by %s; keys: g GC%%  m max  c coll/s  p pid  s service  up/down  q quit",
		 sort_names[t->sort]);
	attron(A_REVERSE);
	mvprintw(2, 0, "%-7s %-12s %5s %-10s %8s %8s %9s %6s %6s", "PID", "SERVICE", "GC%",
		 "COLL/S", "P50", "P99", "MAX", "HEAP", "RSS");
	attroff(A_REVERSE);
	/* the list, then 8 lines for the selected process */
	list_rows = rows - 3 - 9;
	if (list_rows < 3)
		list_rows = 3;
	for (i = 0, y = 3; i < t->nr && y < 3 + list_rows; i++, y++) {
		const struct top_row *r = &t->rows[i];
		char who[4 * IDENTITY_NAME_LEN + 1], coll[32], rss[16];

		text__escape(who, sizeof(who), r->who, sizeof(r->who));
		snprintf(coll, sizeof(coll), "%.0f/%.0f/%.0f", r->rate[0], r->rate[1], r->rate[2]);
		size_cell(heap, sizeof(heap), r->heap);
		if (r->rss < 0)
			snprintf(rss, sizeof(rss), "-");
		else
			snprintf(rss, sizeof(rss), "%lldM", (long long)(r->rss >> 20));
		if (i == sel)
			attron(A_BOLD | A_REVERSE);
		mvprintw(y, 0, "%-7d %-12.12s %5.2f %-10.10s %8s %8s %9s %6s %6s", r->pid, who,
			 100 * r->share, coll, text__duration(a, sizeof(a), r->p50),
			 text__duration(b, sizeof(b), r->p99), text__duration(c, sizeof(c), r->max),
			 heap, rss);
		if (i == sel)
			attroff(A_BOLD | A_REVERSE);
	}
	if (!t->nr)
		mvprintw(3, 0, "(no collections yet)");
	y = 3 + list_rows;
	if (sel >= 0 && y + 4 < rows) {
		const struct top_row *r = &t->rows[sel];
		char who[4 * IDENTITY_NAME_LEN + 1];

		mvhline(y++, 0, '-', cols);
		mvprintw(y++, 0, "pid %d %s: collections since start", r->pid,
			 text__escape(who, sizeof(who), r->who, sizeof(r->who)));
		for (g = 0; g < 3 && y < rows; g++) {
			char sum[24];

			if (!r->all_count[g])
				continue;
			mvprintw(y++, 2, "gen %d %8llu  sum %10s  p50 %9s  p99 %9s  max %9s",
				 g, (unsigned long long)r->all_count[g],
				 text__duration(sum, sizeof(sum), r->all_sum[g]),
				 text__duration(a, sizeof(a), r->all_p50[g]),
				 text__duration(b, sizeof(b), r->all_p99[g]),
				 text__duration(c, sizeof(c), r->all_max[g]));
		}
		for (i = 0; i < t->advice.nr && y < rows - 1; i++)
			mvprintw(y++, 0, "advice: %.*s", cols - 9, t->advice.items[i].text);
	}
	if (last_message[0])
		mvprintw(rows - 1, 0, "%.*s", cols - 1, last_message);
	refresh();
}

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
	t->wall_ns = r->wall_ns;
	sort_rows(t);
	i = selected_index(t);
	advice__free(&t->advice);
	if (i >= 0) {
		t->selected = t->rows[i].pid;
		for (j = 0; j < r->totals->procs.nr; j++)
			if (r->totals->procs.items[j].pid == t->selected &&
			    !r->totals->procs.items[j].retired)
				advice__for_process(&t->advice, &r->totals->procs.items[j], &all,
						    r->run_ns);
	}
	pause_rows__free(&all);
	draw(t);
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
			i = selected_index(t) + (ch == KEY_DOWN ? 1 : -1);
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
	if (redraw && !t->quit) {
		sort_rows(t);
		draw(t);
	}
	return t->quit;
}

static void top_finish(struct sink *s, const struct sink_report *r)
{
	struct top_out *t = s->priv;

	if (t && t->screen) {
		endwin();
		log__capture(NULL);
		t->screen = false;
	}
}

static void top_free(struct sink *s)
{
	struct top_out *t = s->priv;

	top_finish(s, NULL);
	if (t) {
		free(t->rows);
		advice__free(&t->advice);
	}
	free(t);
	s->priv = NULL;
}

const struct sink_ops top_sink = {
	.name = "top",
	.start = top_start,
	.report = top_report,
	.idle = top_idle,
	.finish = top_finish,
	.free = top_free,
};
