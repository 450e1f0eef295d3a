// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the disassembly scan of a stripped libpython (PyGC_Collect,
 * the calls it makes, bare-jmp wrappers, .eh_frame_hdr), for every minor
 * version the scan distinguishes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elf/disasm.h"
#include "elf/elf_file.h"
#include "python/py_versions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct py_version *v = &py_versions[size % py_versions_nr];
	struct disasm_collector dc;
	struct elf_file ef;
	char err[256];

	/* Every row of the version table the scan can be asked for. */
	if (v->disasm_gen < 0 || elf_file__open_mem(&ef, data, size, "fuzz"))
		return 0;
	disasm__find_collector(&ef, v, &dc, err, sizeof(err));
	elf_file__close(&ef);
	return 0;
}
