// SPDX-License-Identifier: GPL-2.0
/*
 * gcbpf top's screen: the header, the process list (the selected row
 * highlighted), the lower pane for the selected process (its pauses since
 * start, thresholds, advice, trigger sites) and the last message on the
 * bottom line. Every line is cut at the window's edge; fits 80x24.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curses.h>
#include "out/out_top.h"
#include "util/text.h"

static const char *const sort_names[SORT_NR] = { "GC%", "max pause", "collections/s", "pid",
						  "service" };

#define TOP_PANE_LINES 64	/* the lower pane, at most */

struct pane_line {
	char text[256];
	int attr;
};

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
	const struct top_stacks *ts = top__stacks_of(t, r->pid);
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

void top__draw(struct top_out *t)
{
	int rows = LINES, cols = COLS, i, sel = top__selected_index(t), list_rows, y, g, n = 0, room;
	double share = 0, rate = 0;
	char a[24], b[24], c[24], heap[16], when[16], who[4 * IDENTITY_NAME_LEN + 1];
	static struct pane_line pane[TOP_PANE_LINES];
	int msg_lines = top_messages__lines(&t->msgs);
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
	room = rows - 3 - (msg_lines ?: 1) - 3;
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
	list_rows = rows - 3 - (msg_lines ?: 1) - n;
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
		put(3, t->reported ? "(no collections yet)" :
		    "(waiting for the first second of collections...)");
	y = 3 + list_rows;
	for (i = 0; i < n && y < rows - (msg_lines ?: 1); i++, y++) {
		if (!i) {
			mvhline(y, 0, '-', cols);
			continue;
		}
		attron(pane[i].attr);
		put(y, "%s", pane[i].text);
		attroff(pane[i].attr);
	}
	top_messages__draw(&t->msgs, msg_lines);
	refresh();
}
