// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <curses.h>
#include "out/top_messages.h"

static void clock_of(char *buf, size_t len, time_t when)
{
	struct tm tm;

	localtime_r(&when, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

void top_messages__add(struct top_messages *m, const char *line)
{
	struct top_message *slot = &m->ring[m->nr % TOP_MESSAGES_KEPT];

	free(slot->text);
	slot->text = strdup(line);
	slot->when = time(NULL);
	m->nr++;
}

const struct top_message *top_messages__newest(const struct top_messages *m)
{
	return m->nr ? &m->ring[(m->nr - 1) % TOP_MESSAGES_KEPT] : NULL;
}

int top_messages__lines(const struct top_messages *m)
{
	return m->nr < TOP_MESSAGE_LINES ? (int)m->nr : TOP_MESSAGE_LINES;
}

/*
 * One message on one line of w columns: its time, then the text, its middle
 * cut out when too wide ("Armed /usr/...after pid 42 exec'd it": what was
 * armed, and for whom, stay).
 */
static void draw_one(const struct top_message *msg, int y, int w)
{
	char line[1024], when[16];
	int len, head;

	if (!msg->text)
		return;
	clock_of(when, sizeof(when), msg->when);
	snprintf(line, sizeof(line), "%s %s", when, msg->text);
	len = strlen(line);
	if (len > (int)sizeof(line) - 1)
		len = sizeof(line) - 1;
	if (len > w) {
		head = (w - 3) / 2;
		memcpy(line + head, "...", 3);
		memmove(line + head + 3, line + len - (w - head - 3), w - head - 3);
		line[w] = 0;
	}
	mvaddnstr(y, 0, line, w);
}

void top_messages__draw(struct top_messages *m, int lines)
{
	int i, w = COLS - 1;	/* the last cell of the screen would scroll it */
	unsigned long long n;

	m->drawn = m->nr;
	if (w < 8)
		return;
	attron(A_BOLD);
	for (i = 0; i < lines && (unsigned long long)i < m->nr; i++) {
		n = m->nr - lines + i;
		if (LINES - lines + i >= 0)
			draw_one(&m->ring[n % TOP_MESSAGES_KEPT], LINES - lines + i, w);
	}
	attroff(A_BOLD);
}

void top_messages__flush(struct top_messages *m, FILE *f)
{
	unsigned long long i, first = m->nr > TOP_MESSAGES_KEPT ? m->nr - TOP_MESSAGES_KEPT : 0,
			   lost = 0;
	char when[16];

	for (i = first; i < m->nr; i++)
		lost += !m->ring[i % TOP_MESSAGES_KEPT].text;
	if (first || lost)
		fprintf(f, "gcbpf: %llu of the %llu messages said while top ran are not repeated "
			"here (top keeps the last %d)\n", first + lost, m->nr, TOP_MESSAGES_KEPT);
	for (i = first; i < m->nr; i++) {
		const struct top_message *msg = &m->ring[i % TOP_MESSAGES_KEPT];

		if (!msg->text)
			continue;
		clock_of(when, sizeof(when), msg->when);
		fprintf(f, "%s %s\n", when, msg->text);
	}
	fflush(f);
	top_messages__free(m);
}

void top_messages__free(struct top_messages *m)
{
	int i;

	for (i = 0; i < TOP_MESSAGES_KEPT; i++)
		free(m->ring[i].text);
	memset(m, 0, sizeof(*m));
}
