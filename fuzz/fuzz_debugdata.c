// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: MiniDebugInfo, an xz stream (.gnu_debugdata) decompressed and
 * opened as the ELF file whose .symtab gcbpf then walks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elf/debuginfo.h"
#include "elf/elf_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sym_cb(const char *name, const GElf_Sym *sym, void *ctx)
{
	*(size_t *)ctx += strlen(name);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file ef;
	unsigned char *out;
	size_t len, acc = 0;
	GElf_Sym sym;

	if (debuginfo__xz_decode(data, size, &out, &len))
		return 0;
	if (len > DEBUGINFO_XZ_MAX)
		abort();
	if (!elf_file__open_mem(&ef, out, len, "debugdata")) {
		elf_file__has_symtab(&ef);
		elf_file__for_each_symbol(&ef, SHT_SYMTAB, sym_cb, &acc);
		elf_file__find_symbol(&ef, "gc_collect_main", &sym);
		elf_file__close(&ef);
	}
	free(out);
	return 0;
}
