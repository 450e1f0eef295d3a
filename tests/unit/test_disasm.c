// SPDX-License-Identifier: GPL-2.0
/*
 * disasm__find_collector on the real pyenv libpythons: on a `strip --strip-all`
 * copy it must find exactly the address .symtab gives collect/gc_collect_main,
 * as each version's row (py_versions.c) describes the search, and before 3.9
 * (clones) the rows say it cannot be done and the search must find nothing
 * rather than guess.
 * Skips versions that are not installed ($PYENV_ROOT, else /root/.pyenv).
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf/disasm.h"
#include "elf/elf_file.h"

static int passed, failed, skipped;

#define CHECK(cond, fmt, ...)								\
	do {										\
		if (cond) {								\
			passed++;							\
		} else {								\
			failed++;							\
			fprintf(stderr, "%s:%d: FAIL: %s: " fmt "\n", __FILE__, __LINE__,	\
				#cond, ##__VA_ARGS__);					\
		}									\
	} while (0)

static char scratch[] = "/tmp/gcbpf-test-disasm.XXXXXX";

/* The pyenv libpython of 3.minor, or false. */
static bool find_lib(int minor, char *buf, size_t len)
{
	const char *root = getenv("PYENV_ROOT");
	char pat[512];
	glob_t g;
	bool ok;

	snprintf(pat, sizeof(pat), "%s/versions/3.%d.*/lib/libpython3.%d*.so.1.0",
		 root && *root ? root : "/root/.pyenv", minor, minor);
	if (glob(pat, 0, NULL, &g))
		return false;
	ok = g.gl_pathc > 0 && !access(g.gl_pathv[0], R_OK);
	if (ok)
		snprintf(buf, len, "%s", g.gl_pathv[0]);
	globfree(&g);
	return ok;
}

static bool stripped_copy(const char *lib, int minor, char *out, size_t len)
{
	char cmd[2048];

	snprintf(out, len, "%s/libpython3.%d.so", scratch, minor);
	snprintf(cmd, sizeof(cmd), "strip --strip-all -o '%s' '%s'", out, lib);
	return system(cmd) == 0;
}

static void test_version(int minor)
{
	const struct py_version *v = py_versions__find(minor, 0, false);
	const char *name = v ? v->collector : "?";
	struct disasm_collector dc;
	struct elf_file ef;
	char lib[1024], copy[1024], err[256];
	GElf_Sym sym;
	int ret;

	CHECK(v && v->disasm_gen == 2, "3.%d: a row that says how", minor);
	if (!v)
		return;
	if (!find_lib(minor, lib, sizeof(lib))) {
		printf("test_disasm: pyenv 3.%d not installed, skipped\n", minor);
		skipped++;
		return;
	}
	if (elf_file__open(&ef, lib)) {
		CHECK(0, "cannot open %s", lib);
		return;
	}
	ret = elf_file__find_symbol(&ef, name, &sym);
	CHECK(!ret, "%s has %s in .symtab", lib, name);
	/* The unstripped file gives the same answer. */
	ret = disasm__find_collector(&ef, v, &dc, err, sizeof(err));
	CHECK(!ret && dc.vaddr == sym.st_value, "%s: %d %#lx vs %s %#lx: %s", lib, ret,
	      (unsigned long)dc.vaddr, name, (unsigned long)sym.st_value, ret ? err : "");
	elf_file__close(&ef);

	if (!stripped_copy(lib, minor, copy, sizeof(copy))) {
		CHECK(0, "strip %s", lib);
		return;
	}
	if (elf_file__open(&ef, copy)) {
		CHECK(0, "cannot open %s", copy);
		return;
	}
	CHECK(!elf_file__has_symtab(&ef), "%s is stripped", copy);
	ret = disasm__find_collector(&ef, v, &dc, err, sizeof(err));
	CHECK(!ret, "3.%d stripped: %s", minor, err);
	CHECK(dc.vaddr == sym.st_value, "3.%d stripped: found %#lx, %s is at %#lx", minor,
	      (unsigned long)dc.vaddr, name, (unsigned long)sym.st_value);
	CHECK(dc.callers >= 3 && dc.eh_frame, "3.%d: %d callers, eh_frame %d", minor,
	      dc.callers, dc.eh_frame);
	elf_file__close(&ef);
	unlink(copy);
}

/*
 * 3.6-3.8: PyGC_Collect calls collect.constprop.0 (generation folded in). The
 * row says no; and searching as for 3.9 finds nothing rather than a guess.
 */
static void test_clones(int minor)
{
	const struct py_version *v = py_versions__find(minor, 0, false);
	const struct py_version *v39 = py_versions__find(9, 0, false);
	struct disasm_collector dc;
	struct elf_file ef;
	char lib[1024], err[256];
	int ret;

	CHECK(v && v->disasm_gen < 0 && v39, "3.%d: the row rules disassembly out", minor);
	if (!v || !v39)
		return;

	if (!find_lib(minor, lib, sizeof(lib))) {
		skipped++;
		return;
	}
	if (elf_file__open(&ef, lib)) {
		CHECK(0, "cannot open %s", lib);
		return;
	}
	ret = disasm__find_collector(&ef, v, &dc, err, sizeof(err));
	CHECK(ret == -ENOTSUP && err[0], "3.%d: %d", minor, ret);
	ret = disasm__find_collector(&ef, v39, &dc, err, sizeof(err));
	CHECK(ret == -ENOENT && err[0], "3.%d: %d %#lx", minor, ret, (unsigned long)dc.vaddr);
	elf_file__close(&ef);
}

int main(void)
{
	int minor;

	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	for (minor = 9; minor <= 13; minor++)
		test_version(minor);
	for (minor = 6; minor <= 8; minor++)
		test_clones(minor);
	rmdir(scratch);
	printf("test_disasm: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
