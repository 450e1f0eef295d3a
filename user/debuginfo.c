// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "debuginfo.h"

#define DEBUG_ROOT "/usr/lib/debug"
/* A decompressed .gnu_debugdata is a few MB; anything far bigger is not one. */
#define DEBUGDATA_MAX (256u << 20)

const char *debuginfo__kind_name(enum debuginfo_kind kind)
{
	switch (kind) {
	case DEBUGINFO_BUILD_ID:
		return "build-id";
	case DEBUGINFO_DEBUGLINK:
		return "debuglink";
	case DEBUGINFO_DEBUGDATA:
		return ".gnu_debugdata";
	default:
		return "none";
	}
}

void debuginfo__close(struct debuginfo *di)
{
	if (di->kind != DEBUGINFO_NONE)
		elf_file__close(&di->ef);
	free(di->mem);
	di->mem = NULL;
	di->kind = DEBUGINFO_NONE;
}

/*
 * The part of path that display does not have: "/proc/PID/root" when the
 * target's files are reached through its root, "" otherwise.
 */
static void root_prefix(const char *path, const char *display, char *buf, size_t len)
{
	size_t pl = strlen(path), dl = strlen(display);

	buf[0] = 0;
	if (pl > dl && !strcmp(path + pl - dl, display))
		snprintf(buf, len, "%.*s", (int)(pl - dl), path);
}

/* Opens prefix+file if it is an ELF file with a .symtab. */
static int open_with_symtab(struct debuginfo *di, const char *prefix, const char *file)
{
	char full[PATH_MAX];

	if (snprintf(full, sizeof(full), "%s%s", prefix, file) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	if (elf_file__open(&di->ef, full))
		return -ENOENT;
	if (!elf_file__has_symtab(&di->ef)) {
		elf_file__close(&di->ef);
		return -ENOENT;
	}
	snprintf(di->path, sizeof(di->path), "%s", file);
	return 0;
}

static int try_build_id(struct debuginfo *di, struct elf_file *ef, const char *prefix)
{
	char id[128], other[128], file[PATH_MAX];

	if (elf_file__build_id(ef, id, sizeof(id)) || strlen(id) < 4)
		return -ENOENT;
	snprintf(file, sizeof(file), DEBUG_ROOT "/.build-id/%.2s/%s.debug", id, id + 2);
	if (open_with_symtab(di, prefix, file))
		return -ENOENT;
	/* The path is the id; a mismatch means a stale or misplaced file. */
	if (elf_file__build_id(&di->ef, other, sizeof(other)) || strcmp(id, other)) {
		elf_file__close(&di->ef);
		return -ENOENT;
	}
	di->kind = DEBUGINFO_BUILD_ID;
	return 0;
}

/* CRC-32 of the whole file, as objcopy --add-gnu-debuglink computes it (zlib's). */
static int file_crc32(int fd, uint32_t *crc)
{
	unsigned char buf[65536];
	uLong c = crc32(0, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		c = crc32(c, buf, n);
		off += n;
	}
	if (n < 0)
		return -errno;
	*crc = c;
	return 0;
}

static int try_debuglink(struct debuginfo *di, struct elf_file *ef, const char *prefix,
			 const char *display)
{
	char dir[PATH_MAX], file[PATH_MAX], copy[PATH_MAX];
	const char *name, *fmt[] = { "%s/%s", "%s/.debug/%s", DEBUG_ROOT "%s/%s" };
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_file__section(ef, ".gnu_debuglink", &shdr);
	Elf_Data *data;
	uint32_t want, crc = 0;
	size_t nlen, i;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !data->d_buf)
		return -ENOENT;
	name = data->d_buf;
	nlen = strnlen(name, data->d_size);
	/* name, NUL, padding to 4, then the CRC in the file's byte order (LE here). */
	if (!nlen || strchr(name, '/') || ((nlen + 4) & ~3u) + 4 > data->d_size)
		return -ENOENT;
	memcpy(&want, (const char *)data->d_buf + ((nlen + 4) & ~3u), 4);
	snprintf(copy, sizeof(copy), "%s", display);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	if (!strcmp(dir, "/"))
		dir[0] = 0;
	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(file, sizeof(file), fmt[i], dir, name);
		/* The link may name the stripped file itself (same dir, same name). */
		if (!strcmp(file, display) || open_with_symtab(di, prefix, file))
			continue;
		if (!file_crc32(di->ef.fd, &crc) && crc == want) {
			di->kind = DEBUGINFO_DEBUGLINK;
			return 0;
		}
		elf_file__close(&di->ef);
	}
	return -ENOENT;
}

/* Decompresses .gnu_debugdata (xz) and opens the ELF inside from memory. */
static int try_debugdata(struct debuginfo *di, struct elf_file *ef, const char *display)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_file__section(ef, ".gnu_debugdata", &shdr);
	Elf_Data *data;
	size_t cap = 1 << 20;
	unsigned char *out = NULL, *p;
	lzma_ret lr;

	if (!scn || shdr.sh_type == SHT_NOBITS || !(data = elf_getdata(scn, NULL)) ||
	    !data->d_buf || !data->d_size)
		return -ENOENT;
	if (lzma_stream_decoder(&strm, UINT64_MAX, 0) != LZMA_OK)
		return -ENOMEM;
	strm.next_in = data->d_buf;
	strm.avail_in = data->d_size;
	do {
		if (!out || !strm.avail_out) {
			if (out)
				cap *= 2;
			if (cap > DEBUGDATA_MAX || !(p = realloc(out, cap))) {
				lr = LZMA_MEM_ERROR;
				break;
			}
			out = p;
			strm.next_out = out + strm.total_out;
			strm.avail_out = cap - strm.total_out;
		}
		lr = lzma_code(&strm, LZMA_FINISH);
	} while (lr == LZMA_OK);
	lzma_end(&strm);
	if (lr != LZMA_STREAM_END)
		goto fail;
	memset(&di->ef, 0, sizeof(di->ef));
	di->ef.fd = -1;
	di->ef.elf = elf_memory((char *)out, strm.total_out);
	if (!di->ef.elf || elf_kind(di->ef.elf) != ELF_K_ELF ||
	    !gelf_getehdr(di->ef.elf, &di->ef.ehdr) || !elf_file__has_symtab(&di->ef)) {
		if (di->ef.elf)
			elf_end(di->ef.elf);
		goto fail;
	}
	di->mem = out;
	di->kind = DEBUGINFO_DEBUGDATA;
	/* The symbols are in the binary itself. */
	snprintf(di->path, sizeof(di->path), "%s", display);
	snprintf(di->ef.path, sizeof(di->ef.path), "%s", di->path);
	return 0;
fail:
	free(out);
	return -ENOENT;
}

int debuginfo__open(struct debuginfo *di, struct elf_file *ef, const char *path,
		    const char *display)
{
	char prefix[PATH_MAX];

	memset(di, 0, sizeof(*di));
	di->ef.fd = -1;
	root_prefix(path, display, prefix, sizeof(prefix));
	if (!try_build_id(di, ef, prefix) || !try_debuglink(di, ef, prefix, display) ||
	    !try_debugdata(di, ef, display))
		return 0;
	di->kind = DEBUGINFO_NONE;
	return -ENOENT;
}
