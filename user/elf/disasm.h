/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The private collector of a stripped CPython (x86-64), found by
 * disassembling the exported PyGC_Collect with capstone.
 */
#ifndef GCBPF_DISASM_H
#define GCBPF_DISASM_H

#include <stddef.h>
#include <stdint.h>
#include "elf/elf_file.h"
#include "python/py_versions.h"

struct disasm_collector {
	uint64_t vaddr;		/* the collector's entry (file vaddr) */
	uint64_t call_site;	/* the call/jmp in PyGC_Collect that led to it */
	int callers;		/* direct call/jmp rel32 to it found in .text */
	int followed;		/* bare-jmp wrappers followed from the call target */
	bool eh_frame;		/* confirmed as a function start by .eh_frame_hdr */
	bool unwrapped;		/* reached through an out-of-line callback wrapper */
};

/*
 * PyGC_Collect calls the collector exactly once with esi = v->disasm_gen (the
 * oldest generation) and, where v has a reason argument, edx = v->disasm_reason
 * (_Py_GC_REASON_MANUAL); where v->disasm_wrapper, the callback invoker around
 * it gets the phase string in rsi and is called twice. Returns 0, or
 * -ENOENT/-ENOTSUP with why the search failed in err.
 */
int disasm__find_collector(struct elf_file *ef, const struct py_version *v,
			   struct disasm_collector *out, char *err, size_t err_len);

#endif
