// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the disassembly scan of a stripped libpython (PyGC_Collect,
 * the calls it makes, bare-jmp wrappers, .eh_frame_hdr), for every minor
 * version the scan distinguishes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "disasm.h"
#include "elf_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disasm_collector dc;
	struct elf_file ef;
	char err[256];

	if (elf_file__open_mem(&ef, data, size, "fuzz"))
		return 0;
	/* 3.9-3.12 and 3.13+ differ (reason MANUAL in edx); 3.15 as the newest. */
	disasm__find_collector(&ef, 9 + (int)(size % 7), &dc, err, sizeof(err));
	elf_file__close(&ef);
	return 0;
}
