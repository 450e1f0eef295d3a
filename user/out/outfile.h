/* SPDX-License-Identifier: GPL-2.0 */
/*
 * -o FILE, opened as a root tool writing into someone else's directory must:
 * a symlink is followed only where the kernel's protected_symlinks rule
 * would (applied here whatever the sysctl says), another user's file in a
 * sticky world-writable directory is not written (protected_regular), a new
 * file is created 0600 whatever the umask; and every write error is caught
 * at the write itself and said once.
 */
#ifndef GCBPF_OUTFILE_H
#define GCBPF_OUTFILE_H

#include <stdio.h>

/*
 * stdio's buffer for an event stream: written out at every poll (~10 times a
 * second) and at the end, so a whole batch of events, not a line (a
 * terminal's default) or 8 KiB, goes out per write(2).
 */
#define OUTPUT_BUF_SIZE (256 << 10)

struct outfile {
	FILE *f;		/* stdout for "-" or no path */
	char *buf;		/* f's buffer, OUTPUT_BUF_SIZE bytes, or NULL: stdio's own */
	const char *path;	/* as given, for messages; NULL: standard output */
	int fd;			/* the file's, -1 for stdout */
	int err;		/* the first write error, -errno */
	int said;		/* err was reported */
};

/* path NULL or "-": standard output. 0 or -errno (said, in one line). o must not move while open. */
int outfile__open(struct outfile *o, const char *path);
/* Flushes; 0, or the first write error as -errno (said once). */
int outfile__flush(struct outfile *o);
/* Flushes and closes (stdout: flushes); 0 or -errno (said once). Safe to repeat. */
int outfile__close(struct outfile *o);

#endif
