/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Symbols for a stripped ELF file from its separate debug information: the
 * build-id debug file, the .gnu_debuglink file, or the MiniDebugInfo in its
 * own .gnu_debugdata. The symbols' values are vaddrs of the stripped file.
 */
#ifndef GCBPF_DEBUGINFO_H
#define GCBPF_DEBUGINFO_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "elf/elf_file.h"

enum debuginfo_kind {
	DEBUGINFO_NONE,
	DEBUGINFO_BUILD_ID,	/* /usr/lib/debug/.build-id/xx/yyyy.debug */
	DEBUGINFO_DEBUGLINK,	/* .gnu_debuglink, CRC32 checked */
	DEBUGINFO_DEBUGDATA,	/* .gnu_debugdata, xz-compressed ELF in the file itself */
};

struct debuginfo {
	enum debuginfo_kind kind;
	struct elf_file ef;	/* has a .symtab; for DEBUGDATA an in-memory ELF */
	void *mem;		/* the decompressed .gnu_debugdata */
	char path[PATH_MAX];	/* the debug file as the target sees it */
};

/*
 * Finds debug information with a .symtab for ef, the ELF file the target
 * sees at display. The debug directories are looked up inside root, the
 * target's root directory as this process opens it ("/proc/PID/root",
 * "/proc/self/fd/N"; NULL: ours), never outside it. 0, or -ENOENT when
 * there is none.
 */
int debuginfo__open(struct debuginfo *di, struct elf_file *ef, const char *root,
		    const char *display);
void debuginfo__close(struct debuginfo *di);

/*
 * Decompresses an xz stream (.gnu_debugdata) of at most DEBUGINFO_XZ_MAX
 * bytes out into a malloc'ed *out. 0, or -EINVAL (not xz, or too big).
 */
#define DEBUGINFO_XZ_MAX (64u << 20)
int debuginfo__xz_decode(const void *in, size_t len, unsigned char **out, size_t *out_len);

/* "build-id", "debuglink", ".gnu_debugdata" */
const char *debuginfo__kind_name(enum debuginfo_kind kind);

#endif
