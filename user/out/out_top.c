// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf top: a live, refreshing terminal view (ncurses) of every traced
 * process, sorted by GC share of wall time (re-sortable), with the selected
 * process's pauses since start, its thresholds, advice and, with --stacks,
 * its top trigger sites (stack_agg's ranking, as --by-stack). Fits 80x24.
 * Redrawn at each report (every second) and at each key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curses.h>
#include "out/advice.h"
#include "trace/hdr.h"
#include "util/log.h"
#include "out/sink.h"
#include "trace/inside_agg.h"
#include "trace/stack_agg.h"
#include "util/text.h"
#include "util/vec.h"

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
	struct gc_config gc;	/* its thresholds, as last read */
	bool live;
};

/* --stacks: one process's collections by trigger site. */
struct top_stacks {
	pid_t pid;
	struct stack_agg agg;
};

#define TOP_PANE_LINES 64	/* the lower pane, at most */

struct pane_line {
	char text[256];
	int attr;
};

struct top_out {
	struct top_row *rows;
	int nr;
	enum top_sort sort;
	pid_t selected;		/* the selected process, 0: the first */
	__u64 wall_ns;		/* of the last interval */
	__u64 started_ns;	/* CLOCK_MONOTONIC when top started */
	struct advice advice;	/* for the selected process */
	VEC(struct top_stacks) stacks;	/* --stacks: per process */
	int last_stacks;	/* index of the last process an event went to */
	__u64 lost;		/* events the kernel could not send (sites undercount) */
	int sites;		/* --stacks: trigger sites to show (--by-stack=N), 0: none */
	const struct inside_agg *inside;	/* --inside: the run's samples (the session's) */
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
	log__capture(top_message);
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	mvaddnstr(0, 0, "gcbpf top: waiting for the first second of collections...", COLS);
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

/*
 * One screen line, formatted here and cut at the window's edge: ncurses'
 * own printw wraps long lines into the next and, in a tiny window,
 * misreads its arguments (ASan, 12x4).
 */
__attribute__((format(printf, 2, 3)))
static void put(int y, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (y < 0 || y >= LINES || COLS <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* the last cell of the last line would scroll the screen */
	mvaddnstr(y, 0, line, y == LINES - 1 ? COLS - 1 : COLS);
}

/* "func file:line", the file cut from the left to fit width. */
static void site_name(char *buf, size_t len, const struct py_frame_sym *f, int width)
{
	char func[256], file[512], line[16] = "";
	int flen, room;

	if (!f->func) {
		snprintf(buf, len, "?");	/* an unknown frame, in place */
		return;
	}
	text__escape(func, sizeof(func), f->func, strlen(f->func) + 1);
	text__escape(file, sizeof(file), f->file, strlen(f->file) + 1);
	if (f->line >= 0)
		snprintf(line, sizeof(line), ":%d", f->line);
	flen = strlen(file);
	room = width - (int)strlen(func) - 1 - (int)strlen(line);
	if (room < 8)
		room = 8;
	if (flen > room)
		snprintf(buf, len, "%s ...%s%s", func, file + flen - (room - 3), line);
	else
		snprintf(buf, len, "%s %s%s", func, file, line);
}

static struct top_stacks *stacks_of(struct top_out *t, pid_t pid)
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

__attribute__((format(printf, 4, 5)))
static void pane_add(struct pane_line *p, int *n, int attr, const char *fmt, ...)
{
	va_list ap;

	if (*n >= TOP_PANE_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(p[*n].text, sizeof(p[*n].text), fmt, ap);
	va_end(ap);
	p[(*n)++].attr = attr;
}

/* An advice item over as many lines of width cols as it takes, at most max. */
static void pane_wrap(struct pane_line *p, int *n, const char *text, int cols, int max)
{
	const char *s = text;
	int lines = 0, w;

	while (*s && lines < max) {
		int len = strlen(s), cut;

		w = cols - (lines ? 4 : 8);
		if (w < 16)
			w = 16;	/* a tiny terminal: the lines are cut at its edge */
		cut = len;
		if (len > w) {
			/* at a space, else hard */
			for (cut = w; cut > w / 2 && s[cut] != ' '; cut--)
				;
			if (s[cut] != ' ')
				cut = w;
		}
		if (lines == max - 1 && len > w)
			pane_add(p, n, 0, "%s%.*s...", lines ? "    " : "advice: ", w - 3, s);
		else
			pane_add(p, n, 0, "%s%.*s", lines ? "    " : "advice: ", cut, s);
		s += cut;
		while (*s == ' ')
			s++;
		lines++;
	}
}

/* The selected process's trigger sites, ranked: at most max lines. */
static void pane_sites(struct top_out *t, const struct top_row *r, struct pane_line *p, int *n,
		       int cols, int max)
{
	const struct top_stacks *ts = stacks_of(t, r->pid);
	const struct stack_site **ranked = NULL;
	char sum[24], mx[24], name[256];
	int nr = ts ? stack_agg__ranked(&ts->agg, &ranked) : 0, i, g;

	if (max < 3)
		max = 3;
	pane_add(p, n, A_BOLD, "trigger sites by total pause (%d stack%s, %llu collections%s):",
		 nr > 0 ? nr : 0, nr == 1 ? "" : "s",
		 ts ? (unsigned long long)ts->agg.events : 0ULL,
		 t->lost ? "; events lost are not in them" : "");
	pane_add(p, n, A_UNDERLINE, "%10s %8s %10s  %s", "SUM", "COUNT", "MAX", "SITE (leaf function file:line)");
	for (i = 0; i < nr && i < max - 2 && i < t->sites; i++) {
		const struct stack_site *site = ranked[i];
		__u64 count = 0, total = 0, m = 0;

		for (g = 0; g < 3; g++) {
			count += site->count[g];
			total += site->sum_ns[g];
			m = site->max_ns[g] > m ? site->max_ns[g] : m;
		}
		if (site->unavailable)
			snprintf(name, sizeof(name), "[no stack from this build]");
		else if (!site->nr)
			snprintf(name, sizeof(name), "%s",
				 site->truncated ? "[truncated]" : "[no Python frame]");
		else
			site_name(name, sizeof(name), &site->frames[0], cols - 32);
		pane_add(p, n, 0, "%10s %8llu %10s  %s",
			 text__duration_fit(sum, sizeof(sum), total, 10), (unsigned long long)count,
			 text__duration_fit(mx, sizeof(mx), m, 10), name);
	}
	if (nr <= 0)
		pane_add(p, n, 0, "  (no collections with a stack yet)");
	free(ranked);
}

struct pane_ctx {
	struct pane_line *p;
	int *n;
};

static void pane_inside_line(void *ctx, int bold, const char *line)
{
	struct pane_ctx *c = ctx;

	pane_add(c->p, c->n, bold ? A_BOLD : 0, "%s", line);
}

static void draw(struct top_out *t)
{
	int rows = LINES, cols = COLS, i, sel = selected_index(t), list_rows, y, g, n = 0, room;
	double share = 0, rate = 0;
	char a[24], b[24], c[24], heap[16], when[16], who[4 * IDENTITY_NAME_LEN + 1];
	static struct pane_line pane[TOP_PANE_LINES];
	time_t now = time(NULL);
	struct tm tm;

	erase();
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	for (i = 0; i < t->nr; i++) {
		share += t->rows[i].share;
		rate += t->rows[i].rate[0] + t->rows[i].rate[1] + t->rows[i].rate[2];
	}
	put(0, "gcbpf top %s  %d processes  %.0f collections/s  GC %.2f%% of wall time",
		 when, t->nr, rate, 100 * share);
	put(1, "by %s; keys: g GC%%  m max  c coll/s  p pid  s service  j/k up/down  q",
		 sort_names[t->sort]);
	attron(A_REVERSE);
	put(2, "%-7s %-12s %5s %-10s %8s %8s %9s %6s %6s", "PID", "SERVICE", "GC%",
		 "COLL/S", "P50", "P99", "MAX", "HEAP", "RSS");
	attroff(A_REVERSE);
	/* The lower pane first: the list gets what it leaves, at least 3 rows. */
	room = rows - 3 - 1 - 3;
	if (sel >= 0) {
		const struct top_row *r = &t->rows[sel];
		char conf[96];
		int adv_lines = 0;

		if (!r->gc.known)
			snprintf(conf, sizeof(conf), "thresholds unknown (%s)", r->gc.why);
		else
			snprintf(conf, sizeof(conf), "thresholds (%d, %d, %d)%s", r->gc.threshold[0],
				 r->gc.threshold[1], r->gc.threshold[2],
				 r->gc.enabled == 0 ? ", automatic GC off (gc.disable())" : "");
		pane_add(pane, &n, 0, "%s", "");
		pane_add(pane, &n, 0, "pid %d %s: since start; %s", r->pid,
			 text__escape(who, sizeof(who), r->who, sizeof(r->who)), conf);
		for (g = 0; g < 3; g++) {
			char sum[24];

			if (!r->all_count[g])
				continue;
			pane_add(pane, &n, 0, "  gen %d %8llu  sum %10s  p50 %9s  p99 %9s  max %9s",
				 g, (unsigned long long)r->all_count[g],
				 text__duration_fit(sum, sizeof(sum), r->all_sum[g], 10),
				 text__duration_fit(a, sizeof(a), r->all_p50[g], 9),
				 text__duration_fit(b, sizeof(b), r->all_p99[g], 9),
				 text__duration_fit(c, sizeof(c), r->all_max[g], 9));
		}
		/* advice: each item in up to 3 lines, all of it in at most 6 */
		for (i = 0; i < t->advice.nr && adv_lines < 6; i++) {
			int before = n;

			pane_wrap(pane, &n, t->advice.items[i].text, cols, 6 - adv_lines < 3 ?
				  6 - adv_lines : 3);
			adv_lines += n - before;
		}
		if (t->sites)
			pane_sites(t, r, pane, &n, cols, room - n);
		if (t->inside) {
			pane_add(pane, &n, A_UNDERLINE, "where pause time went (sampled; SHARE SAMPLES "
				 "EST WHERE):");
			inside_agg__lines(t->inside, r->pid, 3, pane_inside_line,
					  &(struct pane_ctx){ pane, &n });
		}
	}
	if (n > room)
		n = room;
	list_rows = rows - 3 - 1 - n;
	if (list_rows > (t->nr > 3 ? t->nr : 3))
		list_rows = t->nr > 3 ? t->nr : 3;
	for (i = 0, y = 3; i < t->nr && y < 3 + list_rows; i++, y++) {
		const struct top_row *r = &t->rows[i];
		char coll[32], rss[16], pct[16];

		text__escape(who, sizeof(who), r->who, sizeof(r->who));
		snprintf(coll, sizeof(coll), "%.0f/%.0f/%.0f", r->rate[0], r->rate[1], r->rate[2]);
		size_cell(heap, sizeof(heap), r->heap);
		if (r->rss < 0)
			snprintf(rss, sizeof(rss), "-");
		else
			snprintf(rss, sizeof(rss), "%lldM", (long long)(r->rss >> 20));
		if (i == sel)
			attron(A_BOLD | A_REVERSE);
		put(y, "%-7d %-12.12s %5s %-10.10s %8s %8s %9s %6s %6s", r->pid, who,
			 text__percent_fit(pct, sizeof(pct), 100 * r->share, 5), coll,
			 text__duration_fit(a, sizeof(a), r->p50, 8),
			 text__duration_fit(b, sizeof(b), r->p99, 8),
			 text__duration_fit(c, sizeof(c), r->max, 9), heap, rss);
		if (i == sel)
			attroff(A_BOLD | A_REVERSE);
	}
	if (!t->nr)
		put(3, "(no collections yet)");
	y = 3 + list_rows;
	for (i = 0; i < n && y < rows - 1; i++, y++) {
		if (!i) {
			mvhline(y, 0, '-', cols);
			continue;
		}
		attron(pane[i].attr);
		put(y, "%s", pane[i].text);
		attroff(pane[i].attr);
	}
	if (last_message[0])
		put(rows - 1, "%s", last_message);
	refresh();
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
	t->lost = r->totals->counters[GC_CNT_LOST];
	t->inside = r->totals->inside;
	forget_stacks(t, r->totals);
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

/* --stacks: each collection to its process's trigger sites. */
static void top_event(struct sink *s, const struct sink_event *ev)
{
	struct top_out *t = s->priv;
	struct top_stacks *ts;

	if (!t || !t->sites || !ev->stack)
		return;
	ts = stacks_of(t, ev->e->pid);
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
			i = selected_index(t) + (ch == KEY_DOWN || ch == 'j' ? 1 : -1);
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
	int i;

	top_finish(s, NULL);
	if (t) {
		free(t->rows);
		advice__free(&t->advice);
		for (i = 0; i < t->stacks.nr; i++)
			stack_agg__free(&t->stacks.items[i].agg);
		vec_free(&t->stacks);
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
