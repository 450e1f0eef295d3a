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
			CHECK(f.bpf.code_type, "%s: PyCode_Type", g.gl_pathv[j]);
			CHECK(f.bpf.co_header >= 16 && f.bpf.co_header <= GC_CODE_HDR_MAX,
			      "%s: code header %d", g.gl_pathv[j], f.bpf.co_header);
			CHECK((b.minor >= 12) == (f.bpf.co_version >= 0), "%s: co_version %d",
			      g.gl_pathv[j], f.bpf.co_version);
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
 * Naming from code records: names, lines, unknown frames kept in place with
 * their cause, a cut line table giving a name without its line.
 */
static void put_record(struct pystack *ps, __u64 id, const char *name, const char *file,
		       const uint8_t *table, __u32 table_len, __u8 flags)
{
	static uint8_t buf[sizeof(struct gc_code_record) + GC_NAME_MAX + GC_FILE_MAX + 64];
	struct gc_code_record *r = (void *)buf;
	uint8_t *names = buf + sizeof(*r);

	memset(buf, 0, sizeof(buf));
	*r = (struct gc_code_record){ .record = GC_REC_CODE, .pid = 1, .id = id, .firstlineno = 10,
				      .name_len = strlen(name),
				      .file_len = strlen(file), .name_kind = 1, .file_kind = 1,
				      .flags = flags, .table_len = table_len,
				      .table_size = table_len };
	memcpy(names, name, strlen(name));
	memcpy(names + GC_NAME_MAX, file, strlen(file));
	memcpy(names + GC_NAME_MAX + GC_FILE_MAX, table, table_len);
	pystack__add_record(ps, buf, sizeof(*r) + GC_NAME_MAX + GC_FILE_MAX + table_len);
}

static void test_resolve(void)
{
	/* 3.11+ locations: line +1 for 1 unit, +2 for 2 units */
	static const uint8_t table[] = { 0xe8, 0x02, 0xe9, 0x04 };
	static struct {
		struct gc_stack s;
		struct gc_frame f[5];
	} st;
	static struct pystack ps;
	struct py_frames *f = calloc(1, sizeof(*f));
	struct gc_event e = { .record = GC_REC_EVENT, .pid = 1, .binary = 0, .flags = GC_EV_STACK };
	const struct py_stack *out;

	if (!f)
		return;
	*f = (struct py_frames){ .minor = 12, .co_code = 192, .lines = PY_LINES_311 };
	pystack__init(&ps, 64);
	ps.builds[0] = f;
	put_record(&ps, 7, "Worker.run", "/srv/app.py", table, sizeof(table), 0);
	put_record(&ps, 8, "<module>", "/srv/big.py", table, 2, GC_CODE_TABLE_CUT);
	/* a malformed record: counted, not kept */
	pystack__add_record(&ps, &(struct gc_code_record){ .record = GC_REC_CODE, .id = 9 },
			    sizeof(struct gc_code_record));
	CHECK_EQ(ps.counts.records, 2);
	CHECK_EQ(ps.counts.records_bad, 1);

	st.s.nr = 5;
	st.s.status = GC_STACK_OK;
	st.f[0] = (struct gc_frame){ .code_id = 7, .instr = 192 + 2 };
	st.f[1] = (struct gc_frame){ .code_id = 0, .instr = 192, .unknown = GC_FRAME_CODE_FAULT };
	st.f[2] = (struct gc_frame){ .code_id = 99, .instr = 192 + 2 };	/* never received */
	st.f[3] = (struct gc_frame){ .code_id = 8, .instr = 192 + 2 };	/* beyond its cut table */
	st.f[4] = (struct gc_frame){ .code_id = 7, .instr = 192 + 4 };
	out = pystack__resolve(&ps, &e, &st.s);
	CHECK(!out->unavailable && out->nr == 5 && !out->truncated && out->unknown == 2,
	      "nr %d truncated %d unknown %d", out->nr, out->truncated, out->unknown);
	CHECK_STR(out->frames[0].func, "Worker.run");
	CHECK_STR(out->frames[0].file, "/srv/app.py");
	CHECK_EQ(out->frames[0].line, 13);
	CHECK(!out->frames[1].func && !out->frames[1].file && out->frames[1].line == -1,
	      "unknown frame in place");
	CHECK(!out->frames[2].func, "a record never received: unknown");
	CHECK_STR(out->frames[3].func, "<module>");
	CHECK_EQ(out->frames[3].line, -1);
	CHECK_EQ(out->frames[4].line, 13);
	CHECK_EQ(ps.counts.unknown[GC_FRAME_CODE_FAULT], 1);
	CHECK_EQ(ps.counts.unknown[PYSTACK_UNKNOWN_RECORD], 1);
	CHECK_EQ(ps.counts.unknown_frames, 2);
	CHECK_EQ(ps.counts.lines_unknown, 1);

	/* The kernel could not read the chain further; no thread state. */
	st.s.nr = 1;
	st.f[0] = (struct gc_frame){ .code_id = 7, .instr = 192 + 2 };
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
