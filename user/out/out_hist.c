// SPDX-License-Identifier: GPL-2.0
/* --hist[=pid]: log2 pause histograms (ns) in bpftrace's hist() layout. */
#include "trace/hdr.h"
#include "out/sink.h"
#include "util/text.h"

static void print_hist(FILE *f, const char *label, const struct gc_hist *h)
{
	__u64 slots[HDR_LOG2_SLOTS];

	if (!h || !h->count)
		return;
	hdr__log2(h, slots);
	fprintf(f, "@pause_ns[%s]:\n", label);
	hdr__print_log2(f, slots);
	fputc('\n', f);
}

static void hist_report(struct sink *s, const struct sink_report *r)
{
	bool any = false;
	char label[96], comm[4 * GCBPF_COMM_LEN + 1];
	int i;

	fputc('\n', s->f);
	for (i = 0; i < r->rows->nr; i++) {
		const struct pause_row *row = &r->rows->rows[i];

		if (row->gen < 0)
			continue;
		if (s->cfg->hist == HIST_PID && row->proc) {
			snprintf(label, sizeof(label), "%d, %s, gen %d", row->proc->pid,
				 text__escape(comm, sizeof(comm), row->proc->comm,
					      sizeof(row->proc->comm)), row->gen);
			print_hist(s->f, label, row->hist);
		} else if (s->cfg->hist == HIST_GEN && !row->proc) {
			snprintf(label, sizeof(label), "gen %d", row->gen);
			print_hist(s->f, label, row->hist);
		}
		any |= !row->proc;
	}
	if (!any)
		fprintf(s->f, "(no collections to histogram)\n");
}

static void hist_interval(struct sink *s, const struct sink_report *r)
{
	if (s->cfg->intervals)
		hist_report(s, r);
}

static void hist_finish(struct sink *s, const struct sink_report *r)
{
	if (r)
		hist_report(s, r);
}

const struct sink_ops hist_sink = {
	.name = "hist",
	.report = hist_interval,
	.finish = hist_finish,
};
