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
#include "elf/debuginfo.h"
#include "target/rootfs.h"

#define DEBUG_ROOT "/usr/lib/debug"
/* xz's own presets need at most ~65 MiB to decompress (-9: 64 MiB dictionary). */
#define XZ_MEMLIMIT (80u << 20)

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

/* Opens file (a path inside the target's root) if it is an ELF file with a .symtab. */
static int open_with_symtab(struct debuginfo *di, int root_fd, const char *file)
{
	char err[PATH_MAX + 128];
	int fd = rootfs__open(root_fd, file, err, sizeof(err));

	if (fd < 0)
		return fd;
	if (elf_file__open_fd(&di->ef, fd, file))
		return -ENOENT;
	if (!elf_file__has_symtab(&di->ef)) {
		elf_file__close(&di->ef);
		return -ENOENT;
	}
	snprintf(di->path, sizeof(di->path), "%s", file);
	return 0;
}

static int try_build_id(struct debuginfo *di, struct elf_file *ef, int root_fd)
{
	char id[128], other[128], file[PATH_MAX];

	if (elf_file__build_id(ef, id, sizeof(id)) || strlen(id) < 4)
		return -ENOENT;
	snprintf(file, sizeof(file), DEBUG_ROOT "/.build-id/%.2s/%s.debug", id, id + 2);
	if (open_with_symtab(di, root_fd, file))
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

static int try_debuglink(struct debuginfo *di, struct elf_file *ef, int root_fd,
			 const char *display)
{
	char dir[PATH_MAX], file[PATH_MAX], copy[PATH_MAX], name[256];
	const char *fmt[] = { "%s/%s", "%s/.debug/%s", DEBUG_ROOT "%s/%s" };
	uint32_t want, crc = 0;
	size_t i;

	if (elf_file__debuglink(ef, name, sizeof(name), &want))
		return -ENOENT;
	snprintf(copy, sizeof(copy), "%s", display);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	if (!strcmp(dir, "/"))
		dir[0] = 0;
	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(file, sizeof(file), fmt[i], dir, name);
		/* The link may name the stripped file itself (same dir, same name). */
		if (!strcmp(file, display) || open_with_symtab(di, root_fd, file))
			continue;
		if (!file_crc32(di->ef.fd, &crc) && crc == want) {
			di->kind = DEBUGINFO_DEBUGLINK;
			return 0;
		}
		elf_file__close(&di->ef);
	}
	return -ENOENT;
}

int debuginfo__xz_decode(const void *in, size_t len, unsigned char **outp, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	size_t cap = 1 << 20;
	unsigned char *out = NULL, *p;
	lzma_ret lr;

	*outp = NULL;
	*out_len = 0;
	if (!in || !len)
		return -EINVAL;
	/* A bounded decoder: a hostile stream may ask for a huge dictionary. */
	if (lzma_stream_decoder(&strm, XZ_MEMLIMIT, 0) != LZMA_OK)
		return -ENOMEM;
	strm.next_in = in;
	strm.avail_in = len;
	do {
		if (!out || !strm.avail_out) {
			if (out)
				cap *= 2;
			if (cap > DEBUGINFO_XZ_MAX || !(p = realloc(out, cap))) {
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
	if (lr != LZMA_STREAM_END) {
		free(out);
		return -EINVAL;
	}
	*outp = out;
	*out_len = strm.total_out;
	return 0;
}

/* Decompresses .gnu_debugdata (xz) and opens the ELF inside from memory. */
static int try_debugdata(struct debuginfo *di, struct elf_file *ef, const char *display)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_file__section(ef, ".gnu_debugdata", &shdr);
	Elf_Data *data;
	unsigned char *out;
	size_t len;

	if (!scn || shdr.sh_type == SHT_NOBITS || !(data = elf_getdata(scn, NULL)) ||
	    debuginfo__xz_decode(data->d_buf, data->d_size, &out, &len))
		return -ENOENT;
	if (elf_file__open_mem(&di->ef, out, len, display)) {
		free(out);
		return -ENOENT;
	}
	if (!elf_file__has_symtab(&di->ef)) {
		elf_file__close(&di->ef);
		free(out);
		return -ENOENT;
	}
	di->mem = out;
	di->kind = DEBUGINFO_DEBUGDATA;
	/* The symbols are in the binary itself. */
	snprintf(di->path, sizeof(di->path), "%s", display);
	return 0;
}

int debuginfo__open(struct debuginfo *di, struct elf_file *ef, const char *root,
		    const char *display)
{
	int root_fd, ret = -ENOENT;

	memset(di, 0, sizeof(*di));
	di->ef.fd = -1;
	root_fd = open(root ? root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd >= 0 && (!try_build_id(di, ef, root_fd) ||
			     !try_debuglink(di, ef, root_fd, display)))
		ret = 0;
	if (root_fd >= 0)
		close(root_fd);
	if (ret && !try_debugdata(di, ef, display))
		ret = 0;
	if (ret)
		di->kind = DEBUGINFO_NONE;
	return ret;
}
