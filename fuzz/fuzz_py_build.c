// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the whole inspection of a would-be interpreter (version,
 * _Py_DebugOffsets, GC layout, USDT or symbols, MiniDebugInfo, disassembly)
 * on a file a target supplies, given as a memfd the way gcbpf passes a held
 * file (/proc/self/fd/N).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "python/py_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fd = -1;
static char root[] = "/tmp/gcbpf-fuzz-root.XXXXXX";

static void cleanup(void)
{
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(root) || (fd = memfd_create("fuzz", MFD_CLOEXEC)) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* No debug files of the host's: an empty root. */
	struct py_build_opts opts = { .root = root };
	static struct py_build b;
	char path[64], err[1024];

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opts.force_uprobe = size & 1;
	py_build__inspect(&b, path, "/usr/lib/libpython3.so", &opts, err, sizeof(err));
	return 0;
}
