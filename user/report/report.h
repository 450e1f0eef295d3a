/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gcbpf report FILE.jsonl...: every at-exit view of a saved trace, computed
 * by the live run's own code (the sinks and their rows), the events replayed
 * into the totals the kernel's histograms would have filled.
 * gcbpf compare BEFORE AFTER: what changed, with confidence intervals.
 */
#ifndef GCBPF_REPORT_H
#define GCBPF_REPORT_H

/* argv[0] is "report" / "compare"; returns the process exit status. */
int report__main(int argc, char **argv);
int compare__main(int argc, char **argv);

#endif
