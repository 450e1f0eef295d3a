/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ELF fixtures built at test time: a scratch directory, C/asm sources
 * written there and compiled with cc, and independent readings of the
 * results with binutils (nm, readelf) to compare gcbpf's answers against.
 */
#ifndef GCBPF_TEST_FIXTURE_H
#define GCBPF_TEST_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char fx_dir[64];

/* Creates the scratch directory; false (and a message) when it cannot. */
static inline bool fx_init(void)
{
	snprintf(fx_dir, sizeof(fx_dir), "/tmp/gcbpf-test-XXXXXX");
	if (!mkdtemp(fx_dir)) {
		perror("mkdtemp");
		return false;
	}
	return true;
}

/* Removes it, unless GCBPF_TEST_KEEP is set (to look at the fixtures). */
static inline void fx_cleanup(void)
{
	char cmd[128];

	if (!fx_dir[0])
		return;
	if (getenv("GCBPF_TEST_KEEP")) {
		fprintf(stderr, "fixtures kept in %s\n", fx_dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", fx_dir);
}

/* fx_dir/name, into a static rotating buffer (4 live at once). */
static inline const char *fx_path(const char *name)
{
	static char bufs[4][256];
	static int next;
	char *p = bufs[next++ % 4];

	snprintf(p, sizeof(bufs[0]), "%s/%s", fx_dir, name);
	return p;
}

static inline bool fx_write(const char *name, const char *text)
{
	FILE *f = fopen(fx_path(name), "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

/* Runs a shell command (cwd = fx_dir); true when it exits 0. */
__attribute__((format(printf, 1, 2))) static inline bool fx_run(const char *fmt, ...)
{
	char cmd[4096];
	int n, st;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", fx_dir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "command failed (%#x): %s\n", st, cmd);
		return false;
	}
	return true;
}

/* First line of a shell command's output, without the newline; false if none. */
__attribute__((format(printf, 3, 4))) static inline bool fx_capture(char *out, size_t len,
								  const char *fmt, ...)
{
	char cmd[4096];
	FILE *p;
	int n;
	bool ok;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", fx_dir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return false;
	ok = fgets(out, len, p) != NULL;
	pclose(p);
	if (ok)
		out[strcspn(out, "\n")] = 0;
	return ok && out[0];
}

/* The value of symbol `sym` in `file` as nm prints it (.symtab, else -D); 0 if absent. */
static inline uint64_t fx_nm(const char *file, const char *sym)
{
	char out[128];

	if (!fx_capture(out, sizeof(out),
			"{ nm '%s' 2>/dev/null; nm -D '%s'; } | awk '$3 == \"%s\" { print $1; exit }'",
			file, file, sym))
		return 0;
	return strtoull(out, NULL, 16);
}

/* Address and file offset of section `name`, from readelf -SW. */
static inline bool fx_section(const char *file, const char *name, uint64_t *addr,
			      uint64_t *offset)
{
	char out[256];
	unsigned long long a, o;

	/* "  [14] .text  PROGBITS  0000000000001040 001040 ..."; drop the "[NN]". */
	if (!fx_capture(out, sizeof(out),
			"readelf -SW '%s' | sed -n 's/^ *\\[ *[0-9]*\\] //p' | "
			"awk '$1 == \"%s\" { print $3, $4; exit }'", file, name))
		return false;
	if (sscanf(out, "%llx %llx", &a, &o) != 2)
		return false;
	*addr = a;
	*offset = o;
	return true;
}

/*
 * Top-level asm for a USDT note of `provider`:`name` at label `loc`, with the
 * semaphore symbol `sema` (or "0"), as <sys/sdt.h> lays it out. `bias` is
 * added to both the recorded location and the recorded .stapsdt.base, as in
 * a prelinked file.
 */
#define FX_USDT_NOTE(provider, name, loc, sema, bias)				\
	".pushsection .note.stapsdt,\"\",@note\n"				\
	".balign 4\n"								\
	".4byte 992f-991f, 994f-993f, 3\n"					\
	"991: .asciz \"stapsdt\"\n"						\
	"992: .balign 4\n"							\
	"993: .8byte " loc " + " bias "\n"					\
	".8byte _.stapsdt.base + " bias "\n"					\
	".8byte " sema "\n"							\
	".asciz \"" provider "\"\n"						\
	".asciz \"" name "\"\n"							\
	".asciz \"-4@%edi\"\n"							\
	"994: .balign 4\n"							\
	".popsection\n"

#define FX_USDT_BASE								\
	".pushsection .stapsdt.base,\"aG\",@progbits,.stapsdt.base,comdat\n"	\
	".weak _.stapsdt.base\n"						\
	".hidden _.stapsdt.base\n"						\
	"_.stapsdt.base: .space 1\n"						\
	".size _.stapsdt.base, 1\n"						\
	".popsection\n"

#endif
