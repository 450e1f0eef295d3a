// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: an ELF file a target supplies, opened from memory, through
 * every elf_file reader gcbpf uses on it (sections, symbols, the dynamic
 * section, USDT notes and their argument specs, build id, debug link,
 * strings, bytes at a vaddr).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elf/elf_file.h"
#include "elf/usdt_arg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sym_cb(const char *name, const GElf_Sym *sym, void *ctx)
{
	*(size_t *)ctx += strlen(name) + (sym->st_value & 1);
	return 0;
}

static int needed_cb(const char *name, void *ctx)
{
	*(size_t *)ctx += strlen(name);
	return 0;
}

static bool match_any(const char *s, void *ctx)
{
	return !strncmp(s, "3.", 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usdt_note notes[16];
	struct gc_usdt_arg arg;
	struct elf_file ef;
	char buf[256];
	uint32_t crc;
	GElf_Shdr shdr;
	GElf_Sym sym;
	uint64_t off, v;
	size_t acc = 0;
	const char *s;
	int n, i;

	if (elf_file__open_mem(&ef, data, size, "fuzz"))
		return 0;
	elf_file__has_symtab(&ef);
	elf_file__section(&ef, ".text", &shdr);
	elf_file__for_each_symbol(&ef, SHT_SYMTAB, sym_cb, &acc);
	elf_file__for_each_symbol(&ef, SHT_DYNSYM, sym_cb, &acc);
	if (!elf_file__find_symbol(&ef, "_PyRuntime", &sym)) {
		elf_file__vaddr_to_offset(&ef, sym.st_value, &off);
		elf_file__read_vaddr(&ef, sym.st_value, &v, sizeof(v));
	}
	if (!elf_file__find_symbol(&ef, "Py_Version", &sym))
		elf_file__read_vaddr(&ef, sym.st_value, &v, sizeof(v));
	s = elf_file__soname(&ef);
	acc += s ? strlen(s) : 0;
	s = elf_file__runpath(&ef);
	acc += s ? strlen(s) : 0;
	elf_file__has_runpath(&ef);
	elf_file__for_each_needed(&ef, needed_cb, &acc);
	n = elf_file__usdt_notes(&ef, notes, 16);
	for (i = 0; i < n; i++) {
		elf_file__vaddr_to_offset(&ef, notes[i].vaddr, &off);
		elf_file__vaddr_to_offset(&ef, notes[i].semaphore, &off);
		for (int a = 0; a < 4; a++)
			usdt_arg__parse(notes[i].args, a, &arg);
	}
	elf_file__build_id(&ef, buf, sizeof(buf));
	elf_file__debuglink(&ef, buf, sizeof(buf), &crc);
	elf_file__find_string(&ef, match_any, NULL, buf, sizeof(buf));
	/* Reads at vaddrs the file chose: the first bytes of the input. */
	if (size >= 16) {
		memcpy(&v, data + 8, sizeof(v));
		elf_file__read_vaddr(&ef, v, buf, 1 + data[0] % sizeof(buf));
		elf_file__vaddr_to_offset(&ef, v, &off);
	}
	elf_file__close(&ef);
	return 0;
}
