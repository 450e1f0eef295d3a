/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A traced process's collector configuration, read from its memory for the
 * advice: gc.get_threshold() and gc.isenabled(). Located once per process
 * (/proc/PID/maps, the build's GC state as the version's row places it),
 * then re-read at a modest interval, since gc.set_threshold() may change it;
 * never per event. Read-only (process_vm_readv).
 */
#ifndef GCBPF_GC_CONFIG_H
#define GCBPF_GC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#define GC_CONFIG_REFRESH_NS (5 * 1000000000ULL)	/* re-read this often */
#define GC_CONFIG_RETRY_NS (1000000000ULL)	/* not located yet (interpreter starting) */
#define GC_CONFIG_TRIES 30	/* then every GC_CONFIG_REFRESH_NS */
/*
 * The permanent generation is a list: counting it (as gc.get_freeze_count()
 * does) reads every node. Re-counted every FROZEN_REFRESH_NS, or less often
 * when a count takes long, so the reads stay near 1/FROZEN_COST_RATIO of a
 * CPU; at most FROZEN_MAX_NODES.
 */
#define FROZEN_REFRESH_NS (1000000000ULL)
#define FROZEN_COST_RATIO 50
#define FROZEN_MAX_NODES 50000000LL

struct tracer;

struct gc_config {
	bool known;		/* threshold[] was read */
	int threshold[3];	/* gc.get_threshold() */
	int enabled;		/* gc.isenabled(): 1, 0; -1 unknown */
	__u64 read_ns;		/* CLOCK_MONOTONIC of the last read */
	/* where, once located; 0: not yet */
	__u64 thresholds_addr;	/* generations[0].threshold */
	__u64 enabled_addr;	/* 0: not in this version's GC state */
	int stride;		/* between the generations' thresholds */
	__u64 next_ns;		/* the next attempt */
	int tries;
	char why[96];		/* why not known, for the advice */
	/* gc.freeze(): the permanent generation's size */
	__s64 frozen;		/* gc.get_freeze_count(), -1 unknown */
	__u64 frozen_ns;	/* CLOCK_MONOTONIC of that count */
	__u64 frozen_addr;	/* its list head, 0: not located (or none in the version) */
	__u64 frozen_next_ns;	/* the next count */
	char frozen_why[80];	/* why unknown */
};

void gc_config__init(struct gc_config *c);
/* Whether a refresh at now would read anything. */
bool gc_config__due(const struct gc_config *c, __u64 now);
/*
 * Locates (once) and reads pid's configuration and, when due, counts its
 * permanent generation, the binary being one of the
 * tracer's builds. A failed read keeps the last values read (the process
 * may have exited); a value that is no configuration (enabled not 0/1)
 * makes it unknown for good.
 */
void gc_config__refresh(struct gc_config *c, pid_t pid, const struct tracer *t, __u64 now);

#endif
