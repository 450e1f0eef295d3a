// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "out/top_pane.h"

void top_pane__add(struct pane_line *p, int *n, int attr, const char *fmt, ...)
{
	va_list ap;

	if (*n >= TOP_PANE_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(p[*n].text, sizeof(p[*n].text), fmt, ap);
	va_end(ap);
	p[(*n)++].attr = attr;
}

void top_pane__wrap(struct pane_line *p, int *n, const char *text, int cols, int max)
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
			top_pane__add(p, n, 0, "%s%.*s...", lines ? "    " : "advice: ", w - 3, s);
		else
			top_pane__add(p, n, 0, "%s%.*s", lines ? "    " : "advice: ", cut, s);
		s += cut;
		while (*s == ' ')
			s++;
		lines++;
	}
}
