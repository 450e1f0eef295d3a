/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The private collector of a stripped CPython (x86-64), found by
 * disassembling the exported PyGC_Collect with capstone.
 */
#ifndef GCBPF_DISASM_H
#define GCBPF_DISASM_H

#include <stddef.h>
#include <stdint.h>
#include "elf_file.h"

struct disasm_collector {
	uint64_t vaddr;		/* the collector's entry (file vaddr) */
	uint64_t call_site;	/* the call/jmp in PyGC_Collect that led to it */
	int callers;		/* direct call/jmp rel32 to it found in .text */
	int followed;		/* bare-jmp wrappers followed from the call target */
	bool eh_frame;		/* confirmed as a function start by .eh_frame_hdr */
	bool unwrapped;		/* reached through an out-of-line callback wrapper */
};

/*
 * In 3.9+ PyGC_Collect calls the collector exactly once with esi=2 (the
 * oldest generation), and on 3.13+ also edx=2 (_Py_GC_REASON_MANUAL); the
 * callback invoker inlined around it (3.9-3.12) gets the phase string in rsi
 * and is called twice. minor is the Python minor version (9 or newer).
 * Returns 0, or -ENOENT/-ENOTSUP with why the search failed in err.
 */
int disasm__find_collector(struct elf_file *ef, int minor, struct disasm_collector *out,
			   char *err, size_t err_len);

#endif
