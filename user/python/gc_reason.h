/* SPDX-License-Identifier: GPL-2.0 */
/* _PyGC_Reason (3.13+) as gcbpf names it: one place for every output. */
#ifndef GCBPF_GC_REASON_H
#define GCBPF_GC_REASON_H

#include <stddef.h>

/* "heap", "shutdown", "manual", or NULL when unknown (-1) or new. */
static inline const char *gc_reason__name(int reason)
{
	static const char *const names[] = { "heap", "shutdown", "manual" };

	return reason >= 0 && reason < 3 ? names[reason] : NULL;
}

#endif
