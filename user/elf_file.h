/* SPDX-License-Identifier: GPL-2.0 */
/* Read-only access to an ELF file: sections, symbols, notes, bytes at a vaddr. */
#ifndef GCBPF_ELF_FILE_H
#define GCBPF_ELF_FILE_H

#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	char path[PATH_MAX];
};

/* A USDT probe from .note.stapsdt, with its vaddr already adjusted for prelink. */
struct usdt_note {
	char provider[64];
	char name[64];
	char args[128];
	uint64_t vaddr;
	uint64_t semaphore;
};

/* File offset of vaddr, from the PT_LOAD segment holding it; 0 or -ENOENT. */
int elf_file__vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *offset);

/* Returns 0 or -errno (-ENOEXEC: not an ELF file). */
int elf_file__open(struct elf_file *ef, const char *path);
void elf_file__close(struct elf_file *ef);

/* The section called `name`, or NULL. */
Elf_Scn *elf_file__section(struct elf_file *ef, const char *name, GElf_Shdr *shdr);
bool elf_file__has_symtab(struct elf_file *ef);

/* Copy `len` bytes of initialised data at file vaddr `vaddr`. 0 or -errno. */
int elf_file__read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);

/*
 * Calls cb for every named symbol of .symtab (SHT_SYMTAB) or .dynsym
 * (SHT_DYNSYM); a non-zero return from cb stops the walk and is returned.
 */
typedef int (*elf_sym_cb)(const char *name, const GElf_Sym *sym, void *ctx);
int elf_file__for_each_symbol(struct elf_file *ef, int sh_type, elf_sym_cb cb, void *ctx);

/* First defined symbol called `name` in .symtab, then .dynsym. 0 or -ENOENT. */
int elf_file__find_symbol(struct elf_file *ef, const char *name, GElf_Sym *sym);

/* DT_SONAME, or NULL. Points into libelf's data, valid until close. */
const char *elf_file__soname(struct elf_file *ef);

/* Calls cb(i, name) for each DT_NEEDED entry; stops on non-zero. */
int elf_file__for_each_needed(struct elf_file *ef, int (*cb)(const char *name, void *ctx),
			      void *ctx);
/* DT_RUNPATH, else DT_RPATH, or NULL. */
const char *elf_file__runpath(struct elf_file *ef);
/* Whether that is a DT_RUNPATH (searched after LD_LIBRARY_PATH, not before). */
bool elf_file__has_runpath(struct elf_file *ef);

/* USDT probes; returns how many were stored (up to max) or -errno. */
int elf_file__usdt_notes(struct elf_file *ef, struct usdt_note *notes, int max);

/* Build id as lowercase hex into buf; 0 or -ENOENT. */
int elf_file__build_id(struct elf_file *ef, char *buf, size_t len);

/* .gnu_debuglink file name; 0 or -ENOENT. */
int elf_file__debuglink(struct elf_file *ef, char *buf, size_t len);

/*
 * Finds a NUL-terminated string in the file's read-only data for which
 * match(str, ctx) returns true; copies it into buf. 0 or -ENOENT.
 */
int elf_file__find_string(struct elf_file *ef, bool (*match)(const char *s, void *ctx),
			  void *ctx, char *buf, size_t len);

#endif
