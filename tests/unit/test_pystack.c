// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer's decoders against CPython itself: line tables of real code
 * objects with the line CPython gives every instruction (tests/unit/
 * pystack_lines.py, run under every interpreter found here), str kinds to
 * UTF-8, and py_frames__fill on every build found (3.13+: the file's
 * _Py_DebugOffsets read and agreeing with the table).
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "py_build.h"
#include "py_frames.h"
#include "pystack.h"

static const char *interpreters[] = {
	"/root/.pyenv/versions/3.*/bin/python3.?",
	"/root/.pyenv/versions/3.*/bin/python3.??",
	"/usr/bin/python3.11",
	"/usr/bin/python3.11d",
};

static int hexval(int c)
{
	return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* Checks every instruction of every code object the script prints. */
static void check_lines(const char *py, const char *script)
{
	char cmd[1024], *line = NULL, kind[16], *hex;
	size_t cap = 0, len = 0, codes = 0, offsets = 0, bad = 0;
	uint8_t *table = NULL;
	enum py_line_kind k = PY_LINES_LNOTAB;
	int first = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s", py, script);
	p = popen(cmd, "r");
	if (!CHECK(p, "popen %s", cmd))
		return;
	while (getline(&line, &cap, p) > 0) {
		int off, want, got;

		if (line[0] == 'C') {
			size_t i, n;

			hex = malloc(strlen(line));
			if (!hex || sscanf(line, "C %15s %d %s", kind, &first, hex) != 3)
				break;
			k = !strcmp(kind, "lnotab") ? PY_LINES_LNOTAB
			    : !strcmp(kind, "310") ? PY_LINES_310 : PY_LINES_311;
			n = strcmp(hex, "-") ? strlen(hex) / 2 : 0;
			free(table);
			table = malloc(n + 1);
			for (i = 0; table && i < n; i++)
				table[i] = hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]);
			len = n;
			free(hex);
			codes++;
			/* Before the first instruction (f_lasti -1 / LASTI -1): the first line. */
			CHECK_EQ(pystack__line(k, table, len, first, k == PY_LINES_LNOTAB ? -1 : -2),
				 first);
		} else if (sscanf(line, "O %d %d", &off, &want) == 2) {
			got = pystack__line(k, table, len, first, off);
			offsets++;
			if (got != want && bad++ < 5)
				CHECK(got == want, "%s: %s table, first line %d, offset %d: line %d, "
				      "CPython says %d", py, kind, first, off, got, want);
		}
	}
	free(line);
	free(table);
	CHECK(pclose(p) == 0, "%s exited with an error", cmd);
	CHECK(bad == 0, "%s: %zu of %zu offsets wrong", py, bad, offsets);
	CHECK(codes > 10 && offsets > 1000, "%s: only %zu code objects, %zu offsets", py, codes,
	      offsets);
	printf("  %s: %zu code objects, %zu instructions\n", py, codes, offsets);
}

static void test_lines(void)
{
	char script[4096], *slash;
	size_t i, j;
	int found = 0;

	if (!realpath("/proc/self/exe", script))
		return;
	/* .output/tests/test_pystack -> tests/unit/pystack_lines.py */
	for (i = 0; i < 3 && (slash = strrchr(script, '/')); i++)
		*slash = 0;
	strncat(script, "/tests/unit/pystack_lines.py", sizeof(script) - strlen(script) - 1);
	if (access(script, R_OK)) {
		CHECK(0, "no %s", script);
		return;
	}
	for (i = 0; i < sizeof(interpreters) / sizeof(interpreters[0]); i++) {
		glob_t g;

		if (glob(interpreters[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++, found++)
			check_lines(g.gl_pathv[j], script);
		globfree(&g);
	}
	if (!found)
		printf("  (no interpreter found: line tables not checked)\n");
}

static void test_utf8(void)
{
	static const uint8_t latin1[] = { 'g', 'r', 0xf6, 0xdf, 'e' };
	static const uint16_t ucs2[] = { 0x95a2, 0x6570 };
	static const uint32_t ucs4[] = { 0x20000, 'x' }, bad[] = { 0x110000 };
	static const uint16_t lone[] = { 0xd800 };
	char out[64];

	CHECK_EQ(pystack__utf8("abc", 3, 1, out, sizeof(out)), 3);
	CHECK_STR(out, "abc");
	CHECK_EQ(pystack__utf8(latin1, 5, 1, out, sizeof(out)), 7);
	CHECK_STR(out, "gr\xc3\xb6\xc3\x9f" "e");
	CHECK_EQ(pystack__utf8(ucs2, 2, 2, out, sizeof(out)), 6);
	CHECK_STR(out, "\xe9\x96\xa2\xe6\x95\xb0");
	CHECK_EQ(pystack__utf8(ucs4, 2, 4, out, sizeof(out)), 5);
	CHECK_STR(out, "\xf0\xa0\x80\x80x");
	CHECK_EQ(pystack__utf8(bad, 1, 4, out, sizeof(out)), -1);
	CHECK_EQ(pystack__utf8(lone, 1, 2, out, sizeof(out)), -1);
	CHECK_EQ(pystack__utf8(ucs2, 2, 2, out, 6), -1);	/* no room for the NUL */
	CHECK_EQ(pystack__utf8("", 0, 1, out, 1), 0);
}

static void test_depth(void)
{
	int d = 0;

	CHECK(pystack__parse_depth(NULL, &d) == 0 && d == PYSTACK_DEFAULT_DEPTH, "default %d", d);
	CHECK(pystack__parse_depth("256", &d) == 0 && d == 256, "256: %d", d);
	CHECK(pystack__parse_depth("1", &d) == 0 && d == 1, "1: %d", d);
	CHECK_EQ(pystack__parse_depth("257", &d), -1);
	CHECK_EQ(pystack__parse_depth("0", &d), -1);
	CHECK_EQ(pystack__parse_depth("8x", &d), -1);
	CHECK_EQ(pystack__parse_depth("", &d), -1);
}

/* Every build here gives a frame layout; the file's view of 3.13+ included. */
static void test_frames(void)
{
	static const char *files[] = {
		"/root/.pyenv/versions/3.*/lib/libpython3.*.so.1.0",
		"/usr/bin/python3.11",
		"/usr/bin/python3.11d",
		"/var/tmp/gcbpf-sid/usr/bin/python3.1[345]",
		"/var/tmp/gcbpf-sid/usr/bin/python3.1[345]d",
	};
	size_t i, j;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		glob_t g;

		if (glob(files[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++) {
			static struct py_build b;
			struct py_frames f;
			char err[512];
			int ret = py_build__inspect(&b, g.gl_pathv[j], NULL, NULL, err, sizeof(err));

			if (!CHECK(ret == 0, "%s: %s", g.gl_pathv[j], err))
				continue;
			ret = py_frames__fill(&f, &b, err, sizeof(err));
			if (!CHECK(ret == 0, "%s: %s", g.gl_pathv[j], err))
				continue;
			CHECK(f.bpf.read_len > 0 && f.bpf.read_len <= 128, "read_len %d",
			      f.bpf.read_len);
			CHECK(f.code_type && f.str_type && f.bytes_type, "%s: type symbols",
			      g.gl_pathv[j]);
			if (b.minor >= 13)
				CHECK(f.bpf.gil_holder_off > 0 && f.bpf.tstate_frame_off == 72,
				      "%s: holder %d, current_frame %d", g.gl_pathv[j],
				      f.bpf.gil_holder_off, f.bpf.tstate_frame_off);
			printf("  %s (%s): frame read %d+%d, tstate %s, %s\n", g.gl_pathv[j],
			       b.version, f.bpf.read_off, f.bpf.read_len,
			       f.bpf.tstate_from == GC_TSTATE_GIL ? "GIL holder" : "global",
			       f.source);
		}
		globfree(&g);
	}
}

int main(void)
{
	test_utf8();
	test_depth();
	test_lines();
	test_frames();
	return check_done();
}
