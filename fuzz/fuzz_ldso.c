// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the ld.so search inside a target's root, with the names a
 * target controls: its executable's path, DT_RUNPATH/DT_RPATH ($ORIGIN),
 * the library name, LD_LIBRARY_PATH. The root is a scratch directory with
 * libraries, symlinks out of it (absolute, "..", /proc magic), a FIFO and
 * /etc/ld.so.conf.d; whatever is found must be a regular file inside it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "target/exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int root_fd = -1;
static dev_t root_dev;
static char dir[] = "/tmp/gcbpf-fuzz-ldso.XXXXXX";

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cmd[1024];
	struct stat st;

	if (!mkdtemp(dir))
		abort();
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p lib usr/lib/x86_64-linux-gnu opt/py/lib "
		 "etc/ld.so.conf.d && echo x > lib/libpython3.11.so.1.0 && "
		 "echo y > opt/py/lib/libpython3.12.so.1.0 && "
		 "ln -s /etc/passwd opt/py/lib/libpython3.13.so.1.0 && "
		 "ln -s ../../../../../../etc/shadow lib/libpython3.14.so.1.0 && "
		 "ln -s /proc/self/root/etc/passwd lib/libpython3.15.so.1.0 && "
		 "mkfifo lib/libpython3.10.so.1.0 && ln -s /dev/zero lib/libpython3.9.so.1.0 && "
		 "echo /opt/py/lib > etc/ld.so.conf.d/py.conf", dir);
	if (system(cmd))
		abort();
	root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &st))
		abort();
	root_dev = st.st_dev;
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exe \n runpath \n lib \n LD_LIBRARY_PATH; a first byte's low bit: RUNPATH. */
	char *buf, *field[4] = { "", NULL, "libpython3.11.so.1.0", NULL }, out[512], err[512];
	struct stat st;
	size_t i;
	int fd, k = 0;

	if (!size)
		return 0;
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	field[0] = buf;
	for (i = 0; i + 1 < size && k < 3; i++)
		if (buf[i] == '\n') {
			buf[i] = 0;
			field[++k] = buf + i + 1;
		}
	err[0] = 0;
	fd = target__find_library(root_fd, field[0], field[1], data[0] & 1, field[2], field[3],
				  out, sizeof(out), err, sizeof(err));
	if (fd >= 0) {
		/* Only regular files of the scratch root (the host's /etc is elsewhere). */
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_dev != root_dev ||
		    st.st_size > 2)
			abort();
		close(fd);
	} else if (!err[0]) {
		abort();	/* every failure says why */
	}
	free(buf);
	return 0;
}
