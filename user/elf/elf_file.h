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
	int fd;			/* -1 for an ELF in memory */
	const unsigned char *mem;	/* ... its bytes, the caller's */
	size_t mem_len;
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

/*
 * The file at path, a path of ours (a kernel link such as /proc/PID/exe or
 * /proc/self/fd/N, or the launched command's): opened as rootfs__open_link
 * does (regular files only, never blocking). A target's paths must go
 * through rootfs__open and elf_file__open_fd instead.
 * Returns 0 or -errno (-ENOEXEC: not an ELF file, -EPERM: not read).
 */
int elf_file__open(struct elf_file *ef, const char *path);
/* The same from an fd rootfs__open returned; takes it (closed on failure too). */
int elf_file__open_fd(struct elf_file *ef, int fd, const char *name);
/* An ELF image of len bytes at mem, which must outlive ef. 0 or -ENOEXEC. */
int elf_file__open_mem(struct elf_file *ef, const void *mem, size_t len, const char *name);
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

/*
 * The .gnu_debuglink section: the file name (NUL-terminated inside the
 * section, no '/') and the CRC-32 after its padding (crc may be NULL).
 * 0 or -ENOENT. elf_file__parse_debuglink: the same over the section's bytes.
 */
int elf_file__debuglink(struct elf_file *ef, char *buf, size_t len, uint32_t *crc);
int elf_file__parse_debuglink(const void *sec, size_t len, char *name, size_t name_len,
			      uint32_t *crc);

/*
 * Finds a NUL-terminated string in the file's read-only data for which
 * match(str, ctx) returns true; copies it into buf. 0 or -ENOENT.
 */
int elf_file__find_string(struct elf_file *ef, bool (*match)(const char *s, void *ctx),
			  void *ctx, char *buf, size_t len);

#endif
