/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whole lines held for one stdio call per poll instead of one per line (the
 * JSON writer's records, text's event lines): they go into the stream at
 * line_buf_flush() (a sink's flush op, before any report) or when the next
 * line might not fit. Only whole lines reach the stream, so its other
 * writers (warnings, where it is stderr) never cut one.
 */
#ifndef GCBPF_LINE_BUF_H
#define GCBPF_LINE_BUF_H

#include <stddef.h>
#include <stdio.h>

#define LINE_BUF_SIZE 16384

struct line_buf {
	FILE *f;
	size_t len;		/* bytes in buf, not yet in f */
	char buf[LINE_BUF_SIZE];
};

/* What is held, into the stream (errors: the stream's, as for any write). */
static inline void line_buf_flush(struct line_buf *b)
{
	if (b->len)
		fwrite(b->buf, 1, b->len, b->f);
	b->len = 0;
}

/* A whole line ends at buf + len: held while a line of up to next bytes still fits. */
static inline void line_buf_end_line(struct line_buf *b, size_t next)
{
	if (b->len > LINE_BUF_SIZE - next)
		line_buf_flush(b);
}

#endif
