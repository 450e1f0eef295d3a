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
#include "python/py_build.h"
#include "python/py_frames.h"
#include "python/pystack.h"

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

/* Tables from a hostile target: any bytes, any offset; the decoders end, in bounds. */
static void test_lines_hostile(void)
{
	uint8_t t[64];
	unsigned int seed = 12345;
	int i, k, n, calls = 0;

	/* Bounds: run under -fsanitize=address to see them checked. */
	for (i = 0; i < 20000; i++) {
		size_t len = rand_r(&seed) % sizeof(t);

		for (n = 0; n < (int)len; n++)
			t[n] = rand_r(&seed);
		for (k = PY_LINES_LNOTAB; k <= PY_LINES_311; k++, calls++)
			pystack__line(k, t, len, rand_r(&seed) % 1000,
				      (int)(rand_r(&seed) % 600) - 2);
	}
	CHECK_EQ(calls, 60000);
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

/*
 * The symbolizer on objects laid out like 3.12's in this very process
 * (process_vm_readv on oneself needs no privilege): names, lines, the
 * cache noticing a reused address, and memory that is no (longer a) code
 * object ending the stack, counted.
 */
static __u64 code_type, str_type, bytes_type;	/* their addresses stand for the types */

struct fake_str {
	__u64 refcnt, type, length, hash;
	__u32 state, pad;
	char data[64];		/* compact ASCII: right after the 40-byte header */
};

static void fake_str(struct fake_str *o, const char *s)
{
	memset(o, 0, sizeof(*o));
	o->refcnt = 1;
	o->type = (__u64)(uintptr_t)&str_type;
	o->length = strlen(s);
	o->state = 1 << 2 | 1 << 5 | 1 << 6;	/* kind 1, compact, ascii */
	memcpy(o->data, s, strlen(s));
}

static void test_resolve(void)
{
	static struct fake_str file, name, other;
	static struct {
		__u64 refcnt, type, size, hash;
		uint8_t data[8];
	} table = { 1, 0, 4, 0, { 0xe8, 0x02, 0xe9, 0x04 } };	/* line +1 (1 unit), +2 (2 units) */
	static uint8_t code[256];
	static struct {
		struct gc_stack s;
		struct gc_frame f[3];
	} st;
	static struct pystack ps;
	struct py_frames *f = calloc(1, sizeof(*f));
	struct gc_event e = { .pid = getpid(), .binary = 0, .flags = GC_EV_STACK };
	const struct py_stack *out;
	__u64 v;

	if (!f)
		return;
	*f = (struct py_frames){ .minor = 12, .co_filename = 112, .co_name = 128,
				 .co_firstlineno = 68, .co_lines = 136, .co_firsttraceable = 176,
				 .co_code = 192, .co_header = 184, .lines = PY_LINES_311,
				 .bytes_size = 16, .bytes_data = 32, .str_length = 16, .str_state = 32,
				 .str_ascii_data = 40, .str_compact_data = 56,
				 .code_type = (__u64)(uintptr_t)&code_type,
				 .str_type = (__u64)(uintptr_t)&str_type,
				 .bytes_type = (__u64)(uintptr_t)&bytes_type };
	table.type = (__u64)(uintptr_t)&bytes_type;
	fake_str(&file, "/srv/app.py");
	fake_str(&name, "Worker.run");
	fake_str(&other, "other");
	v = 1;
	memcpy(code, &v, 8);
	v = (__u64)(uintptr_t)&code_type;
	memcpy(code + 8, &v, 8);
	v = (__u64)(uintptr_t)&file;
	memcpy(code + 112, &v, 8);
	v = (__u64)(uintptr_t)&name;
	memcpy(code + 128, &v, 8);
	v = (__u64)(uintptr_t)&table;
	memcpy(code + 136, &v, 8);
	code[68] = 10;		/* co_firstlineno */
	pystack__init(&ps, 64);
	ps.builds[0] = f;
	st.s.nr = 3;
	st.s.status = GC_STACK_OK;
	st.f[0] = (struct gc_frame){ (__u64)(uintptr_t)code, 192 + 2, 0 };
	st.f[1] = (struct gc_frame){ (__u64)(uintptr_t)code, 192 + 0, 0 };
	st.f[2] = (struct gc_frame){ 0x10, 192, 0 };	/* unmapped */

	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(!out->unavailable && out->nr == 2 && out->truncated, "nr %d truncated %d", out->nr,
	      out->truncated);
	CHECK_STR(out->frames[0].func, "Worker.run");
	CHECK_STR(out->frames[0].file, "/srv/app.py");
	CHECK_EQ(out->frames[0].line, 13);
	CHECK_EQ(out->frames[1].line, 11);
	CHECK_EQ(ps.counts.read_failures, 1);
	CHECK_EQ(ps.counts.cache_misses, 1);
	CHECK_EQ(ps.counts.cache_hits, 1);

	/* The same address, another object: named anew, not from the cache. */
	v = (__u64)(uintptr_t)&other;
	memcpy(code + 128, &v, 8);
	st.s.nr = 1;
	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(out->nr == 1 && !out->truncated, "nr %d", out->nr);
	CHECK_STR(out->frames[0].func, "other");
	CHECK_EQ(ps.counts.cache_stale, 1);

	/* Freed: no longer a code object. The stack ends, nothing is named. */
	v = 0;
	memcpy(code + 8, &v, 8);
	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(out->nr == 0 && out->truncated, "nr %d truncated %d", out->nr, out->truncated);
	CHECK_EQ(ps.counts.bad_objects, 1);

	/* A code object again, whose name is no str: not named. */
	memcpy(code + 8, &(__u64){ (__u64)(uintptr_t)&code_type }, 8);
	memcpy(code + 128, &(__u64){ (__u64)(uintptr_t)&table }, 8);
	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(out->nr == 0 && out->truncated, "nr %d", out->nr);
	CHECK_EQ(ps.counts.bad_objects, 2);

	/* The kernel's walk ended at an unreadable frame; no thread state. */
	memcpy(code + 128, &(__u64){ (__u64)(uintptr_t)&other }, 8);
	st.s.status = GC_STACK_FAULT;
	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(out->nr == 1 && out->truncated, "nr %d", out->nr);
	st.s.status = GC_STACK_NO_TSTATE;
	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(out->unavailable, "no tstate: null");
	st.s.status = GC_STACK_OK;
	e.flags = 0;
	CHECK(pystack__resolve(&ps, &e, &st.s)->unavailable, "no GC_EV_STACK: null");
	pystack__free(&ps);
}

/* Builds without a frame layout say why, in one line. */
static void test_refused(void)
{
	static struct py_build b;
	struct py_frames f;
	char err[256];

	b.minor = 16;
	snprintf(b.path, sizeof(b.path), "/nonexistent");
	CHECK_EQ(py_frames__fill(&f, &b, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "3.16"), "%s", err);
	b.minor = 13;
	b.free_threaded = true;
	CHECK_EQ(py_frames__fill(&f, &b, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "free-threaded"), "%s", err);
}

int main(void)
{
	test_refused();
	test_utf8();
	test_lines_hostile();
	test_resolve();
	test_depth();
	test_lines();
	test_frames();
	return check_done();
}
