// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf/elf_file.h"
#include "target/rootfs.h"

/* libelf's handle on ef's fd or memory; 0 or -ENOEXEC (closes ef). */
static int elf_file__begin(struct elf_file *ef)
{
	if (elf_version(EV_CURRENT) == EV_NONE) {
		elf_file__close(ef);
		return -EINVAL;
	}
	/* Read, not mmap: a target may truncate its file under us (SIGBUS). */
	ef->elf = ef->mem ? elf_memory((char *)ef->mem, ef->mem_len)
			  : elf_begin(ef->fd, ELF_C_READ, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->ehdr)) {
		elf_file__close(ef);
		return -ENOEXEC;
	}
	return 0;
}

int elf_file__open_fd(struct elf_file *ef, int fd, const char *name)
{
	memset(ef, 0, sizeof(*ef));
	ef->fd = fd;
	snprintf(ef->path, sizeof(ef->path), "%s", name);
	return elf_file__begin(ef);
}

int elf_file__open_mem(struct elf_file *ef, const void *mem, size_t len, const char *name)
{
	memset(ef, 0, sizeof(*ef));
	ef->fd = -1;
	ef->mem = mem;
	ef->mem_len = len;
	snprintf(ef->path, sizeof(ef->path), "%s", name);
	return elf_file__begin(ef);
}

int elf_file__open(struct elf_file *ef, const char *path)
{
	char err[PATH_MAX + 128];
	int fd = rootfs__open_link(path, err, sizeof(err));

	if (fd < 0) {
		memset(ef, 0, sizeof(*ef));
		ef->fd = -1;
		return fd;
	}
	return elf_file__open_fd(ef, fd, path);
}

void elf_file__close(struct elf_file *ef)
{
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	ef->elf = NULL;
	ef->fd = -1;
	ef->mem = NULL;
}

int elf_file__vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *offset)
{
	size_t i, n;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOENT;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
			*offset = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

Elf_Scn *elf_file__section(struct elf_file *ef, const char *name, GElf_Shdr *shdr)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr))
			continue;
		n = elf_strptr(ef->elf, shstrndx, shdr->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static Elf_Scn *section_of_type(struct elf_file *ef, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn)))
		if (gelf_getshdr(scn, shdr) && shdr->sh_type == type)
			return scn;
	return NULL;
}

bool elf_file__has_symtab(struct elf_file *ef)
{
	GElf_Shdr shdr;

	return section_of_type(ef, SHT_SYMTAB, &shdr) != NULL;
}

int elf_file__read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	uint64_t off;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_ALLOC))
			continue;
		/* Written so that a hostile header cannot overflow. */
		if (vaddr < shdr.sh_addr || len > shdr.sh_size ||
		    vaddr - shdr.sh_addr > shdr.sh_size - len)
			continue;
		if (shdr.sh_type == SHT_NOBITS)
			return -ENODATA;
		off = shdr.sh_offset + (vaddr - shdr.sh_addr);
		if (ef->mem) {
			if (off < shdr.sh_offset || off > ef->mem_len || len > ef->mem_len - off)
				return -EIO;
			memcpy(buf, ef->mem + off, len);
			return 0;
		}
		if (off < shdr.sh_offset || off > INT64_MAX ||
		    pread(ef->fd, buf, len, off) != (ssize_t)len)
			return -EIO;
		return 0;
	}
	return -ENOENT;
}

int elf_file__for_each_symbol(struct elf_file *ef, int sh_type, elf_sym_cb cb, void *ctx)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != (Elf64_Word)sh_type)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !shdr.sh_entsize)
			continue;
		n = shdr.sh_size / shdr.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;
			int err;

			if (!gelf_getsym(data, i, &sym) || !sym.st_name)
				continue;
			name = elf_strptr(ef->elf, shdr.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			err = cb(name, &sym, ctx);
			if (err)
				return err;
		}
	}
	return 0;
}

struct find_sym_ctx {
	const char *name;
	GElf_Sym *sym;
};

static int find_sym_cb(const char *name, const GElf_Sym *sym, void *ctx)
{
	struct find_sym_ctx *f = ctx;

	if (sym->st_shndx == SHN_UNDEF || strcmp(name, f->name))
		return 0;
	*f->sym = *sym;
	return 1;
}

int elf_file__find_symbol(struct elf_file *ef, const char *name, GElf_Sym *sym)
{
	struct find_sym_ctx f = { name, sym };

	if (elf_file__for_each_symbol(ef, SHT_SYMTAB, find_sym_cb, &f) == 1)
		return 0;
	if (elf_file__for_each_symbol(ef, SHT_DYNSYM, find_sym_cb, &f) == 1)
		return 0;
	return -ENOENT;
}

/* Value of dynamic tag `tag` as a string from .dynstr, the i-th occurrence. */
static const char *dynamic_string(struct elf_file *ef, Elf64_Sxword tag, int nth)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_of_type(ef, SHT_DYNAMIC, &shdr);
	Elf_Data *data;
	size_t i, n;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !shdr.sh_entsize)
		return NULL;
	n = shdr.sh_size / shdr.sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Dyn dyn;

		if (!gelf_getdyn(data, i, &dyn))
			break;
		if (dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == tag && nth-- == 0)
			return elf_strptr(ef->elf, shdr.sh_link, dyn.d_un.d_val);
	}
	return NULL;
}

const char *elf_file__soname(struct elf_file *ef)
{
	return dynamic_string(ef, DT_SONAME, 0);
}

int elf_file__for_each_needed(struct elf_file *ef, int (*cb)(const char *name, void *ctx),
			      void *ctx)
{
	const char *name;
	int i, err;

	for (i = 0; (name = dynamic_string(ef, DT_NEEDED, i)); i++) {
		err = cb(name, ctx);
		if (err)
			return err;
	}
	return 0;
}

bool elf_file__has_runpath(struct elf_file *ef)
{
	return dynamic_string(ef, DT_RUNPATH, 0) != NULL;
}

const char *elf_file__runpath(struct elf_file *ef)
{
	const char *p = dynamic_string(ef, DT_RUNPATH, 0);

	return p ? p : dynamic_string(ef, DT_RPATH, 0);
}

/* Walks the notes of every SHT_NOTE section; cb returns non-zero to stop. */
static int for_each_note(struct elf_file *ef,
			 int (*cb)(const GElf_Nhdr *nh, const char *name, const char *desc,
				   const GElf_Shdr *shdr, void *ctx),
			 void *ctx)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		int err;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			err = cb(&nh, (const char *)data->d_buf + name_off,
				 (const char *)data->d_buf + desc_off, &shdr, ctx);
			if (err)
				return err;
		}
	}
	return 0;
}

struct usdt_ctx {
	struct usdt_note *notes;
	int max, n;
	uint64_t base_addr;	/* actual vaddr of .stapsdt.base, 0 if none */
};

static int usdt_note_cb(const GElf_Nhdr *nh, const char *name, const char *desc,
			const GElf_Shdr *shdr, void *ctx)
{
	struct usdt_ctx *u = ctx;
	struct usdt_note *n;
	uint64_t loc, base, sema;
	const char *s, *end = desc + nh->n_descsz;

	if (nh->n_type != 3 || nh->n_namesz != 8 || strcmp(name, "stapsdt") ||
	    nh->n_descsz < 3 * 8 + 3)
		return 0;
	if (u->n >= u->max)
		return 1;
	memcpy(&loc, desc, 8);
	memcpy(&base, desc + 8, 8);
	memcpy(&sema, desc + 16, 8);
	n = &u->notes[u->n];
	s = desc + 24;
	snprintf(n->provider, sizeof(n->provider), "%.*s", (int)strnlen(s, end - s), s);
	s += strnlen(s, end - s) + 1;
	if (s >= end)
		return 0;
	snprintf(n->name, sizeof(n->name), "%.*s", (int)strnlen(s, end - s), s);
	s += strnlen(s, end - s) + 1;
	n->args[0] = 0;
	if (s < end)
		snprintf(n->args, sizeof(n->args), "%.*s", (int)strnlen(s, end - s), s);
	/* Prelinked files record the .stapsdt.base they were built with. */
	n->vaddr = loc;
	n->semaphore = sema;
	if (u->base_addr && base) {
		n->vaddr = loc + (u->base_addr - base);
		if (sema)
			n->semaphore = sema + (u->base_addr - base);
	}
	u->n++;
	return 0;
}

int elf_file__usdt_notes(struct elf_file *ef, struct usdt_note *notes, int max)
{
	struct usdt_ctx u = { notes, max, 0, 0 };
	GElf_Shdr shdr;

	if (elf_file__section(ef, ".stapsdt.base", &shdr))
		u.base_addr = shdr.sh_addr;
	if (!elf_file__section(ef, ".note.stapsdt", &shdr))
		return 0;
	for_each_note(ef, usdt_note_cb, &u);
	return u.n;
}

struct build_id_ctx {
	char *buf;
	size_t len;
};

static int build_id_cb(const GElf_Nhdr *nh, const char *name, const char *desc,
		       const GElf_Shdr *shdr, void *ctx)
{
	struct build_id_ctx *b = ctx;
	size_t i;

	if (nh->n_type != NT_GNU_BUILD_ID || nh->n_namesz != 4 || strcmp(name, "GNU"))
		return 0;
	if (b->len < 2 * nh->n_descsz + 1)
		return -ENOSPC;
	for (i = 0; i < nh->n_descsz; i++)
		sprintf(b->buf + 2 * i, "%02x", (unsigned char)desc[i]);
	return 1;
}

int elf_file__build_id(struct elf_file *ef, char *buf, size_t len)
{
	struct build_id_ctx b = { buf, len };

	return for_each_note(ef, build_id_cb, &b) == 1 ? 0 : -ENOENT;
}

int elf_file__parse_debuglink(const void *sec, size_t len, char *name, size_t name_len,
			      uint32_t *crc)
{
	const char *s = sec;
	const char *nul = s ? memchr(s, 0, len) : NULL;
	size_t nlen, crc_off;

	/* name, NUL, padding to 4, then the CRC in the file's byte order (LE here). */
	if (!nul || nul == s)
		return -ENOENT;
	nlen = nul - s;
	crc_off = (nlen + 4) & ~(size_t)3;
	if (memchr(s, '/', nlen) || crc_off > len || len - crc_off < 4 || nlen >= name_len)
		return -ENOENT;
	memcpy(name, s, nlen + 1);
	memcpy(crc, s + crc_off, 4);
	return 0;
}

int elf_file__debuglink(struct elf_file *ef, char *buf, size_t len, uint32_t *crc)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_file__section(ef, ".gnu_debuglink", &shdr);
	Elf_Data *data;
	uint32_t ignored;

	/* A NOBITS section has a size but no bytes (d_buf NULL). */
	if (!scn || shdr.sh_type == SHT_NOBITS || !(data = elf_getdata(scn, NULL)))
		return -ENOENT;
	return elf_file__parse_debuglink(data->d_buf, data->d_size, buf, len,
					 crc ? crc : &ignored);
}

int elf_file__find_string(struct elf_file *ef, bool (*match)(const char *s, void *ctx),
			  void *ctx, char *buf, size_t len)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_file__section(ef, ".rodata", &shdr);
	Elf_Data *data;
	const char *p, *end;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !data->d_buf)
		return -ENOENT;
	p = data->d_buf;
	end = p + data->d_size;
	while (p < end) {
		size_t n = strnlen(p, end - p);

		if (n && n < 256 && p + n < end && match(p, ctx)) {
			snprintf(buf, len, "%s", p);
			return 0;
		}
		p += n + 1;
	}
	return -ENOENT;
}
