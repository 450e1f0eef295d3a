// SPDX-License-Identifier: GPL-2.0
/*
 * The outputs, each sink through its interface into a memstream: JSON lines
 * and the Chrome trace (checked by Python's json module), text, the pause
 * table, histograms, Prometheus rendering; the JSON writer; the totals.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "check.h"
#include "trace/hdr.h"
#include "target/identity.h"
#include "out/json_writer.h"
#include "util/numfmt.h"
#include "out/out_prometheus.h"
#include "out/output.h"
#include "util/text.h"
#include "trace/totals.h"

static bool have_python;

/*
 * Parses `text` as JSON lines with python3 (L: the list of objects, each a
 * list of (key, value) pairs so duplicates and order show; D: the same as
 * dicts) and evaluates `expr`; true when it holds.
 */
static bool py_check(const char *text, const char *expr)
{
	static const char prog[] =
		"python3 -c '\n"
		"import json, os, sys\n"
		"lines = sys.stdin.read().split(\"\\n\")\n"
		"assert lines[-1] == \"\", \"no final newline\"\n"
		"L = [json.loads(x, object_pairs_hook=lambda p: p) for x in lines[:-1]]\n"
		"D = [dict(x) for x in L]\n"
		"K = [[k for k, v in x] for x in L]\n"
		"J = [json.loads(x) for x in lines[:-1]]\n"
		"sys.exit(0 if eval(os.environ[\"CHECK_EXPR\"]) else 3)\n"
		"'";
	FILE *p;
	int st;

	setenv("CHECK_EXPR", expr, 1);
	p = popen(prog, "w");
	if (!p)
		return false;
	fputs(text, p);
	st = pclose(p);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "python3: %s does not hold for:\n%s", expr, text);
		return false;
	}
	return true;
}

#define CHECK_PY(text, expr)							\
	do {									\
		if (have_python)						\
			CHECK(py_check(text, expr), "%s", expr);		\
	} while (0)

static struct gc_event event(void)
{
	struct gc_event e;

	memset(&e, 0, sizeof(e));
	e.pid = 1234;
	e.tid = 1236;
	snprintf(e.comm, sizeof(e.comm), "python3");
	e.iid = 0;
	e.gen = 2;
	e.reason = 2;
	e.ts_start = 1000000000;
	e.ts_stop = 1000000000 + 2500000;
	e.collected = 5;
	e.uncollectable = 1;
	e.heap_size = -1;
	e.long_lived_total = 100;
	e.long_lived_pending = -1;
	e.candidates = -1;
	e.collections = 7;
	e.probe = GC_PROBE_USDT;
	e.cgroup_id = 42;
	e.rss = 123 << 20;
	return e;
}

static void build(struct py_build *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->version, sizeof(b->version), "3.11.7");
	snprintf(b->display_path, sizeof(b->display_path), "/opt/we\"ird\\/libpython3.11.so.1.0");
}

/* A sink writing into a memstream; sink_end() returns what it wrote (caller frees). */
struct mem_sink {
	struct sink s;
	struct sink_config cfg;
	char *buf;
	size_t len;
};

static void sink_begin(struct mem_sink *m, const struct sink_ops *ops, const struct sink_config *cfg,
		       struct totals *t)
{
	memset(m, 0, sizeof(*m));
	if (cfg)
		m->cfg = *cfg;
	m->s.ops = ops;
	m->s.cfg = &m->cfg;
	m->s.totals = t;
	m->s.f = open_memstream(&m->buf, &m->len);
	if (ops->start)
		CHECK_EQ(ops->start(&m->s), 0);
}

static void sink_event(struct mem_sink *m, const struct gc_event *e, const struct py_build *b)
{
	struct sink_event ev = { .e = e, .build = b };

	m->s.ops->event(&m->s, &ev);
}

/* A report of t's whole run (interval: since the last one) through the sink's report op. */
static void sink_report(struct mem_sink *m, struct totals *t, bool interval, bool final,
			__u64 wall_ns)
{
	struct pause_rows rows;
	struct sink_report r = { .totals = t, .rows = &rows, .interval = interval,
				 .wall_ns = wall_ns };

	if (!CHECK_EQ(totals__rows(t, interval, &rows), 0))
		return;
	if (final && m->s.ops->finish)
		m->s.ops->finish(&m->s, &r);
	else if (!final && m->s.ops->report)
		m->s.ops->report(&m->s, &r);
	pause_rows__free(&rows);
}

/* Finish without a report (the error path), free, and take the text. */
static char *sink_end(struct mem_sink *m, bool finish)
{
	if (finish && m->s.ops->finish)
		m->s.ops->finish(&m->s, NULL);
	if (m->s.ops->flush)	/* as outputs__close() does */
		m->s.ops->flush(&m->s);
	if (m->s.ops->free)
		m->s.ops->free(&m->s);
	fclose(m->s.f);
	return m->buf;
}

static char *jsonl_of(const struct gc_event *e, const struct py_build *b)
{
	struct mem_sink m;

	sink_begin(&m, &jsonl_sink, NULL, NULL);
	sink_event(&m, e, b);
	return sink_end(&m, false);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_jsonl_event(void)
{
	static const char keys[] =
		"K == [['pid', 'tid', 'comm', 'iid', 'gen', 'reason', 'ts_start', 'ts_stop', "
		"'duration_ns', 'duration', 'collected', 'uncollectable', 'heap_size', "
		"'long_lived_total', 'long_lived_pending', 'candidates', 'collections', "
		"'python', 'probe', 'binary', 'cgroup', 'rss']]";
	struct gc_event e = event();
	struct py_build b;
	char *out;

	build(&b);
	out = jsonl_of(&e, &b);
	CHECK(count_lines(out) == 1 && out[strlen(out) - 1] == '\n', "one line: %s", out);
	CHECK(out[0] == '{', "an object: %s", out);
	CHECK_PY(out, keys);
	CHECK_PY(out, "D[0]['pid'] == 1234 and D[0]['tid'] == 1236 and D[0]['comm'] == 'python3'");
	CHECK_PY(out, "D[0]['iid'] == 0 and D[0]['gen'] == 2 and D[0]['reason'] == 'manual'");
	CHECK_PY(out, "D[0]['ts_start'] == 1000000000 and D[0]['ts_stop'] == 1002500000");
	CHECK_PY(out, "D[0]['duration_ns'] == 2500000 and abs(D[0]['duration'] - 2.5) < 1e-9");
	CHECK_PY(out, "D[0]['collected'] == 5 and D[0]['uncollectable'] == 1");
	CHECK_PY(out, "D[0]['heap_size'] is None and D[0]['long_lived_total'] == 100");
	CHECK_PY(out, "D[0]['long_lived_pending'] is None and D[0]['candidates'] is None");
	CHECK_PY(out, "D[0]['collections'] == 7 and D[0]['cgroup'] == 42");
	CHECK_PY(out, "D[0]['rss'] == 123 * 2**20");
	CHECK_PY(out, "D[0]['python'] == '3.11.7' and D[0]['probe'] == 'usdt'");
	CHECK_PY(out, "D[0]['binary'] == '/opt/we\"ird\\\\/libpython3.11.so.1.0'");
	/* Without python3, at least the key order and the nulls. */
	CHECK(strstr(out, "\"heap_size\":null,\"long_lived_total\":100,"), "%s", out);
	CHECK(strstr(out, "\"pid\":1234,\"tid\":1236,\"comm\":\"python3\","), "%s", out);
	free(out);

	/* Escapes, unknown build, -1 iid/reason, huge timestamps and cgroup. */
	e = event();
	memcpy(e.comm, "a\"b\\c\x01\x1f\t\n", 10);
	e.iid = -1;
	e.reason = -1;
	e.gen = 0;
	e.probe = GC_PROBE_UPROBE;
	e.ts_start = 1ull << 62;
	e.ts_stop = (1ull << 62) + 123456789;
	e.collected = -1;
	e.uncollectable = -1;
	e.collections = -1;
	e.long_lived_total = -1;
	e.cgroup_id = UINT64_MAX;
	e.rss = -1;
	out = jsonl_of(&e, NULL);
	CHECK(count_lines(out) == 1, "one line: %s", out);
	CHECK_PY(out, "len(L) == 1 and len(K[0]) == 22");
	CHECK_PY(out, "D[0]['comm'] == 'a\"b\\\\c\\x01\\x1f\\t\\n'");
	CHECK_PY(out, "D[0]['iid'] is None and D[0]['reason'] is None and D[0]['gen'] == 0");
	CHECK_PY(out, "D[0]['python'] is None and D[0]['binary'] is None");
	CHECK_PY(out, "D[0]['probe'] == 'uprobe'");
	CHECK_PY(out, "D[0]['ts_start'] == 2**62 and D[0]['ts_stop'] == 2**62 + 123456789");
	CHECK_PY(out, "D[0]['duration_ns'] == 123456789 == D[0]['ts_stop'] - D[0]['ts_start']");
	CHECK_PY(out, "abs(D[0]['duration'] - 123.456789) < 1e-6");
	CHECK_PY(out, "all(D[0][k] is None for k in ('collected', 'uncollectable', "
		 "'collections', 'long_lived_total', 'heap_size'))");
	CHECK_PY(out, "D[0]['cgroup'] == 2**64 - 1 and D[0]['rss'] is None");
	CHECK(strstr(out, "\"duration_ns\":123456789,"), "%s", out);
	free(out);

	/* A comm of all 16 bytes, no NUL. */
	e = event();
	memcpy(e.comm, "0123456789abcdef", 16);
	out = jsonl_of(&e, NULL);
	CHECK(strstr(out, "\"comm\":\"0123456789abcdef\","), "%s", out);
	free(out);
}

/* A build's fields, escaped once per build and probe, stay each event's own: builds and probes
 * interleaved, one whose path is longer than the writer's buffer once escaped. */
static void test_jsonl_build_fields(void)
{
	static struct py_build a, b, huge;
	struct gc_event e = event();
	struct mem_sink m;
	char *out;
	int i;

	build(&a);
	build(&b);
	snprintf(b.version, sizeof(b.version), "3.12.1");
	snprintf(b.display_path, sizeof(b.display_path), "/usr/lib/libpython3.12.so");
	build(&huge);
	memset(huge.display_path, '\x01', sizeof(huge.display_path) - 1);	/* 6 bytes each escaped */
	sink_begin(&m, &jsonl_sink, NULL, NULL);
	for (i = 0; i < 12; i++) {
		e.probe = i % 4 == 3 ? GC_PROBE_UPROBE : GC_PROBE_USDT;
		e.pid = 100 + i;
		sink_event(&m, &e, i % 3 == 0 ? &a : i % 3 == 1 ? &b : &huge);
	}
	out = sink_end(&m, false);
	CHECK(count_lines(out) == 12, "a record per event: %s", out);
	CHECK_PY(out, "len(D) == 12 and all(d['pid'] == 100 + i and "
		 "d['probe'] == ('uprobe' if i % 4 == 3 else 'usdt') and d['python'] == "
		 "['3.11.7', '3.12.1', '3.11.7'][i % 3] and d['binary'] == ['/opt/we\"ird\\\\/"
		 "libpython3.11.so.1.0', '/usr/lib/libpython3.12.so', '\\x01' * 4095][i % 3] and "
		 "list(d)[-3:] == ['binary', 'cgroup', 'rss'] for i, d in enumerate(D))");
	free(out);
}

static void test_reasons(void)
{
	static const char *const want[] = { "'heap'", "'shutdown'", "'manual'", "None", "None" };
	static const int reasons[] = { 0, 1, 2, 3, -1 };
	struct gc_event e = event();
	struct mem_sink m;
	char *out, expr[128];
	int i;

	sink_begin(&m, &jsonl_sink, NULL, NULL);
	for (i = 0; i < 5; i++) {
		e.reason = reasons[i];
		sink_event(&m, &e, NULL);
	}
	out = sink_end(&m, false);
	CHECK_EQ(count_lines(out), 5);
	for (i = 0; i < 5; i++) {
		snprintf(expr, sizeof(expr), "D[%d]['reason'] == %s", i, want[i]);
		CHECK_PY(out, expr);
	}
	CHECK(strstr(out, "\"reason\":\"heap\""), "%s", out);
	free(out);
}

static void test_json_writer(void)
{
	struct json_writer w;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	json_escape(f, "x\"y\\z\x7f\x02\n", 100);
	json_escape(f, "abcdef", 3);
	json_escape(f, "", 3);
	/* invalid UTF-8 (a lone continuation, an overlong '/', a surrogate) becomes U+FFFD;
	 * valid multi-byte sequences pass */
	json_escape(f, "\x80\xc0\xaf\xed\xa0\x80\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 100);
	fputc('|', f);
	jw_init(&w, f);
	jw_start_object(&w);
	jw_uint_field(&w, "a", 1);
	jw_name(&w, "b");
	jw_start_array(&w);
	jw_int(&w, -2);
	jw_null(&w);
	jw_start_object(&w);
	jw_end_object(&w);
	jw_decimal(&w, 1234567, 3);
	jw_decimal(&w, 5, 3);
	jw_float(&w, 0.0 / 0.0, 2);
	jw_bool(&w, true);
	jw_end_array(&w);
	jw_count_field(&w, "c", -1);
	jw_count_field(&w, "d", 0);
	jw_string_or_null_field(&w, "e", NULL);
	jw_float_field(&w, "f", 2.5, 3);
	jw_end_object(&w);
	jw_end_line(&w);
	jw_start_object(&w);
	jw_end_object(&w);
	jw_end_line(&w);
	fclose(f);
	CHECK_STR(out, "\"x\\\"y\\\\z\\u007f\\u0002\\n\"\"abc\"\"\""
		  "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"|"
		  "{\"a\":1,\"b\":[-2,null,{},1234.567,0.005,null,true],\"c\":null,\"d\":0,"
		  "\"e\":null,\"f\":2.500}\n{}\n");
	CHECK_PY(strchr(out, '|') + 1, "D[0]['b'][3] == 1234.567 and D[1] == {}");
	free(out);
}

/* One record through a run and through the generic calls, from offset pad in the buffer. */
/* raw: bytes of a pre-rendered fragment written after the run's fields (jw_run_raw). */
static void run_vs_generic(int pad, const char *str, size_t max, int64_t v, size_t raw)
{
	static char frag[2 * JW_BUF];
	char *a = NULL, *b = NULL, padding[JW_BUF];
	size_t alen = 0, blen = 0;
	FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
	struct json_writer w;
	struct jw_run r;
	int fill;

	memset(padding, 'x', sizeof(padding));
	memset(frag, 'q', sizeof(frag));
	memcpy(frag, "\"q\":\"", 5);
	if (raw >= 6 && raw <= sizeof(frag))
		frag[raw - 1] = '"';
	jw_init(&w, fa);
	jw_start_object(&w);
	jw_string_field(&w, "pad", "");
	/* the record starts pad bytes into the buffer: where a run must flush midway */
	fill = pad > (int)w.out.len ? pad - (int)w.out.len : 0;
	memcpy(w.out.buf + w.out.len, padding, fill);
	w.out.len += fill;
	jw_run_begin(&r, &w);
	jw_run_uint(&r, "u", (uint64_t)v);
	jw_run_int(&r, "i", v);
	jw_run_count(&r, "c", v);
	jw_run_null(&r, "n");
	jw_run_string(&r, "s", str, max);
	jw_run_decimal(&r, "d", (uint64_t)v, 6);
	jw_run_string(&r, "z", NULL, max);
	if (raw)
		jw_run_raw(&r, frag, raw);
	jw_run_end(&r);
	jw_uint_field(&w, "after", 1);
	jw_end_object(&w);
	jw_end_line(&w);
	fclose(fa);

	jw_init(&w, fb);
	jw_start_object(&w);
	jw_string_field(&w, "pad", "");
	jw_flush(&w);
	fwrite(padding, 1, fill, fb);
	jw_uint_field(&w, "u", (uint64_t)v);
	jw_int_field(&w, "i", v);
	jw_count_field(&w, "c", v);
	jw_null_field(&w, "n");
	jw_name(&w, "s");
	jw_string_n(&w, str, max);
	jw_name(&w, "d");
	jw_decimal(&w, (uint64_t)v, 6);
	jw_string_or_null_field(&w, "z", NULL);
	if (raw) {
		jw_name(&w, "q");
		frag[raw - 1] = 0;
		jw_string(&w, frag + 5);
		frag[raw - 1] = '"';
	}
	jw_uint_field(&w, "after", 1);
	jw_end_object(&w);
	jw_end_line(&w);
	fclose(fb);
	CHECK(alen == blen && !memcmp(a, b, alen), "pad %d string %.20s: %.*s != %.*s", pad, str,
	      (int)alen, a, (int)blen, b);
	free(a);
	free(b);
}

/* Every write the stream gets: whether each ended a line. */
static int held_writes, held_partial;

static ssize_t held_write(void *c, const char *buf, size_t n)
{
	(void)c;
	held_writes++;
	held_partial += n && buf[n - 1] != '\n';
	return n;
}

/* Held records reach the stream in whole lines, fewer writes than records. */
static void test_json_held(void)
{
	cookie_io_functions_t io = { .write = held_write };
	FILE *f = fopencookie(NULL, "w", io);
	struct json_writer w;
	char name[600];
	int i;

	setvbuf(f, NULL, _IONBF, 0);	/* each of the writer's handovers seen as made */
	jw_init(&w, f);
	for (i = 0; i < 1000; i++) {
		/* records of 30 to ~630 bytes: the buffer's end falls anywhere in them */
		memset(name, 'n', sizeof(name));
		name[(i * 37) % (sizeof(name) - 1)] = 0;
		jw_start_object(&w);
		jw_uint_field(&w, "i", i);
		jw_string_field(&w, "s", name);
		jw_end_object(&w);
		jw_end_line_held(&w);
	}
	jw_flush(&w);
	fclose(f);
	CHECK(held_partial == 0, "%d of %d writes end mid-line", held_partial, held_writes);
	CHECK(held_writes > 0 && held_writes < 100, "%d writes for 1000 records", held_writes);
}

/* Runs write what the generic writer writes: plain, escaped, long, unterminated, at the edge. */
static void test_json_run(void)
{
	static const char unterminated[4] = { 'a', 'b', 'c', 'd' };
	char long_plain[200], long_mixed[200];
	static const int pads[] = { 0, 1, JW_BUF - 200, JW_BUF - 120, JW_BUF - 80, JW_BUF - 40,
				    JW_BUF - 30, JW_BUF - 12, JW_BUF - 3 };
	static const int64_t values[] = { 0, 7, -1, 1234567, INT64_MAX, INT64_MIN };
	int i, k;

	memset(long_plain, 'p', sizeof(long_plain) - 1);
	long_plain[sizeof(long_plain) - 1] = 0;
	memcpy(long_mixed, long_plain, sizeof(long_mixed));
	long_mixed[70] = '"';
	long_mixed[150] = '\n';
	for (i = 0; i < (int)(sizeof(pads) / sizeof(pads[0])); i++) {
		for (k = 0; k < (int)(sizeof(values) / sizeof(values[0])); k++)
			run_vs_generic(pads[i], "py311", 16, values[k], 0);
		run_vs_generic(pads[i], "", 16, 1, 0);
		run_vs_generic(pads[i], "a\"b\\c\x01\xc3\xa9\xff", SIZE_MAX, 2, 0);
		run_vs_generic(pads[i], "plain then \t tab", SIZE_MAX, 3, 0);
		run_vs_generic(pads[i], unterminated, sizeof(unterminated), 4, 0);
		run_vs_generic(pads[i], long_plain, SIZE_MAX, 5, 0);
		run_vs_generic(pads[i], long_plain, 64, 6, 0);
		run_vs_generic(pads[i], long_plain, 65, 7, 0);
		run_vs_generic(pads[i], long_mixed, SIZE_MAX, 8, 0);
		/* a fragment that fits, one that needs the flush, one longer than the buffer */
		run_vs_generic(pads[i], "py311", 16, 9, 6);
		run_vs_generic(pads[i], "py311", 16, 9, 60);
		run_vs_generic(pads[i], "py311", 16, 9, JW_BUF - 100);
		run_vs_generic(pads[i], "py311", 16, 9, JW_BUF + 500);
	}
}

/* A deterministic spread of 64-bit values: every magnitude, and around each power of ten. */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The fast formatters write exactly what printf did, so outputs stay byte-identical. */
static void test_fast_formats(void)
{
	static const int64_t edges[] = { 0, 1, 9, 10, 99, 100, 101, 999, 1000, -1, -9, -10, -99,
					 INT64_MAX, INT64_MIN, INT64_MIN + 1, 4294967295LL,
					 1000000000000000000LL, 9999999999999999999ULL };
	char got[64], want[64], ref[64];
	uint64_t x = 88172645463325252ULL, ns, p10;
	int i, n, bad = 0;

	for (i = 0; i < (int)(sizeof(edges) / sizeof(edges[0])); i++) {
		n = numfmt_s64(got, edges[i]);
		got[n] = 0;
		snprintf(want, sizeof(want), "%lld", (long long)edges[i]);
		CHECK_STR(got, want);
		n = numfmt_u64(got, (uint64_t)edges[i]);
		got[n] = 0;
		snprintf(want, sizeof(want), "%llu", (unsigned long long)edges[i]);
		CHECK_STR(got, want);
	}
	/* Either side of every power of ten: where the digit count changes. */
	for (i = 0, p10 = 1; i < 20; i++, p10 *= 10) {
		uint64_t around[] = { p10 - 1, p10, p10 + 1 };
		int k;

		for (k = 0; k < 3; k++) {
			n = numfmt_u64(got, around[k]);
			got[n] = 0;
			snprintf(want, sizeof(want), "%llu", (unsigned long long)around[k]);
			bad += !CHECK_STR(got, want);
			CHECK(numfmt_digits(around[k]) == n, "%s", want);
		}
	}
	for (i = 0; i < 200000 && bad < 5; i++) {
		uint64_t v = next_rand(&x) >> (next_rand(&x) % 64);

		n = numfmt_u64(got, v);
		got[n] = 0;
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		bad += !CHECK_STR(got, want);
		n = numfmt_s64(got, (int64_t)v);
		got[n] = 0;
		snprintf(want, sizeof(want), "%lld", (long long)v);
		bad += !CHECK_STR(got, want);
	}
	/* Every duration below 3 ms (each tie of both rounding steps among them), then spread. */
	for (ns = 0; ns < 3000000 + 2000000 && bad < 5; ns++) {
		uint64_t v = ns < 3000000 ? ns : next_rand(&x) % (ns & 1 ? 1000000000000000ULL
									: 100000000000ULL);

		if (ns >= 3000000 && ns & 2)
			v = v / 1000 * 1000 + 500;	/* a tie of the ms step */
		text__duration(got, sizeof(got), v);
		if (v < 1000)
			snprintf(ref, sizeof(ref), "%lluns", (unsigned long long)v);
		else if (v < 1000000)
			snprintf(ref, sizeof(ref), "%.2fus", v / 1e3);
		else
			snprintf(ref, sizeof(ref), "%.3fms", v / 1e6);
		bad += !CHECK_STR(got, ref);
	}
	CHECK_STR(text__duration(got, sizeof(got), 1125), "1.12us");	/* exact tie: to even */
	CHECK_STR(text__duration(got, sizeof(got), 1375), "1.38us");
	CHECK_STR(text__duration(got, 4, 123456789), "123");	/* cut as snprintf cuts */
	/* JSONL's "duration": the ms as "%.6f" of ns / 1e6 wrote them. */
	for (i = 0, p10 = 1; i < 300000 && bad < 5; i++) {
		struct json_writer w;
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		ns = i < 1000 ? (uint64_t)i : next_rand(&x) % (p10 = p10 > 1e14 ? 1 : p10 * 10) ;
		jw_init(&w, f);
		jw_decimal(&w, ns, 6);
		jw_flush(&w);
		fclose(f);
		snprintf(want, sizeof(want), "%.6f", ns / 1e6);
		bad += !CHECK_STR(out, want);
		free(out);
	}
}

/* Records longer than the writer's buffer go out in parts, whole and in order. */
static void test_json_writer_long(void)
{
	struct json_writer w;
	char *out = NULL, big[3 * JW_BUF + 7], expr[128];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int i;

	for (i = 0; i < (int)sizeof(big) - 1; i++)
		big[i] = i % 97 == 0 ? '"' : 'a' + i % 26;
	big[sizeof(big) - 1] = 0;
	jw_init(&w, f);
	jw_start_object(&w);
	for (i = 0; i < 400; i++)
		jw_uint_field(&w, "field_with_a_long_name", i);
	jw_string_field(&w, "big", big);
	jw_end_object(&w);
	jw_end_line(&w);
	fclose(f);
	snprintf(expr, sizeof(expr), "len(D[0]['big']) == %zu and J[0]['field_with_a_long_name'] "
		 "== 399 and len(L[0]) == 401", sizeof(big) - 1);
	CHECK_PY(out, expr);
	CHECK_EQ(len, strlen(out));
	free(out);
}

/* Each text line is what the printf format it replaced wrote (after the time of day). */
static void test_text_as_printf(void)
{
	static const struct { __u32 pid, tid; const char *comm; int gen; __u64 ns; __s64 coll, unc;
			      bool read_err; } cases[] = {
		{ 1, 1, "p", 0, 0, 0, 0, false },
		{ 4194304, 4194303, "sixteen-chars-xx", 1, 999, 123456789012LL, 99999999, false },
		{ 1234567, 7, "a b", 2, 1000005, -1, -1, false },
		{ 42, 43, "py", -3, 123456789012345ULL, 5, 1, true },
		{ 99, 100, "x", 22222, 1500, 7, 0, false },
	};
	struct mem_sink m;
	struct gc_event e = event();
	char *out, *line, want[512], dur[32];
	int i;

	sink_begin(&m, &text_sink, NULL, NULL);
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		e.pid = cases[i].pid;
		e.tid = cases[i].tid;
		memset(e.comm, 0, sizeof(e.comm));
		memcpy(e.comm, cases[i].comm, strnlen(cases[i].comm, sizeof(e.comm)));
		e.gen = cases[i].gen;
		e.ts_stop = e.ts_start + cases[i].ns;
		e.collected = cases[i].coll;
		e.uncollectable = cases[i].unc;
		e.flags = cases[i].read_err ? GC_EV_READ_ERROR : 0;
		sink_event(&m, &e, NULL);
	}
	out = sink_end(&m, false);
	line = strchr(out, '\n') + 1;
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		char comm[GCBPF_COMM_LEN + 1] = {}, *end = strchr(line, '\n');
		int n;

		memcpy(comm, cases[i].comm, strnlen(cases[i].comm, GCBPF_COMM_LEN));
		if (cases[i].ns < 1000)
			snprintf(dur, sizeof(dur), "%lluns", (unsigned long long)cases[i].ns);
		else if (cases[i].ns < 1000000)
			snprintf(dur, sizeof(dur), "%.2fus", cases[i].ns / 1e3);
		else
			snprintf(dur, sizeof(dur), "%.3fms", cases[i].ns / 1e6);
		n = snprintf(want, sizeof(want), "%-7u %-7u %-15s %3d %10s ", cases[i].pid,
			     cases[i].tid, comm, (__s16)cases[i].gen, dur);
		if (cases[i].read_err)
			n += snprintf(want + n, sizeof(want) - n, "%9s %6s", "?", "?");
		else
			n += snprintf(want + n, sizeof(want) - n, "%9lld %6lld",
				      (long long)cases[i].coll, (long long)cases[i].unc);
		snprintf(want + n, sizeof(want) - n, " %s\n", "-");
		if (!CHECK(end && !strncmp(line + 13, want, strlen(want)) &&
			   line[8] == '.' && line[12] == ' ', "line %d: '%.*s', expected '????????.??? %s'",
			   i, end ? (int)(end - line) : 40, line, want))
			break;
		line = end + 1;
	}
	free(out);
}

/* A comm whose escaped form is longer than a field's fixed-size copy, and one shorter. */
static void test_text_long_fields(void)
{
	static const char comms[3][GCBPF_COMM_LEN] = {
		"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11\x12\x13\x14\x15", "ab\x01",
		"0123456789abcdef"
	};
	struct gc_event e = event();
	struct mem_sink m;
	char *out, *line, esc[4 * GCBPF_COMM_LEN + 1], want[128];
	int i;

	sink_begin(&m, &text_sink, NULL, NULL);
	for (i = 0; i < 3; i++) {
		memcpy(e.comm, comms[i], sizeof(e.comm));
		sink_event(&m, &e, NULL);
	}
	out = sink_end(&m, false);
	line = strchr(out, '\n') + 1;
	for (i = 0; i < 3; i++) {
		text__escape(esc, sizeof(esc), comms[i], GCBPF_COMM_LEN);
		snprintf(want, sizeof(want), " %-7u %-7u %-15s %3d ", e.pid, e.tid, esc, e.gen);
		CHECK(strlen(esc) > (i == 0 ? 32 : 0) && !strncmp(line + 12, want, strlen(want)),
		      "line %d: '%.*s', expected '%s'", i, (int)(strchr(line, '\n') - line), line, want);
		line = strchr(line, '\n') + 1;
	}
	free(out);
}

/* Held text lines reach the stream at the flush, and before what the next sink writes. */
static void test_text_held(void)
{
	struct gc_event e = event();
	struct mem_sink m;
	char *out;
	int i;

	sink_begin(&m, &text_sink, NULL, NULL);
	for (i = 0; i < 3; i++)
		sink_event(&m, &e, NULL);
	fflush(m.s.f);
	CHECK(m.buf && count_lines(m.buf) == 1, "only the header before the flush: %s", m.buf);
	m.s.ops->finish(&m.s, NULL);	/* outputs__close(): each sink's finish, in order */
	fputs("TABLE\n", m.s.f);	/* the pause table's sink, same stream */
	out = sink_end(&m, false);
	CHECK(count_lines(out) == 5 && !strncmp(out, "TIME", 4) &&
	      !strcmp(out + strlen(out) - 6, "TABLE\n"), "events, then the table: %s", out);
	free(out);
}

static void test_text(void)
{
	struct gc_event e = event();
	struct mem_sink m;
	char *out, *line2, *line3, *line4;

	sink_begin(&m, &text_sink, NULL, NULL);
	sink_event(&m, &e, NULL);
	e.flags = GC_EV_READ_ERROR;
	e.gen = 1;
	e.ts_stop = e.ts_start + 123456789;
	sink_event(&m, &e, NULL);
	/* A name that would forge a line and move the cursor. */
	e.flags = 0;
	e.ts_stop = e.ts_start + 700;
	memcpy(e.comm, "ev\nil\x1b[2J\xc2\x9b", 11);
	sink_event(&m, &e, NULL);
	out = sink_end(&m, true);
	CHECK_EQ(count_lines(out), 4);
	CHECK(!strncmp(out, "TIME", 4) && strstr(out, "PID") && strstr(out, "GEN") &&
	      strstr(out, "PAUSE"), "header: %s", out);
	line2 = strchr(out, '\n') + 1;
	line3 = strchr(line2, '\n') + 1;
	line4 = strchr(line3, '\n') + 1;
	CHECK(strstr(line2, " 1234 ") && strstr(line2, " 1236 ") && strstr(line2, "python3") &&
	      strstr(line2, " 2.500ms ") && strstr(line2, " 5 ") && strstr(line2, " 1 -\n"),
	      "event line: %s", line2);
	CHECK(strstr(line3, " 123.457ms ") && strstr(line3, "?") && strstr(line3, " 1 "),
	      "read-error line: %s", line3);
	/* 0.7 us is 700ns, not 0.001 */
	CHECK(strstr(line4, "ev\\x0ail\\x1b[2J\\x9b") && strstr(line4, " 700ns "),
	      "escaped, in ns: %s", line4);
	CHECK(!strchr(line4, '\x1b'), "no raw escape: %s", line4);
	free(out);
	test_text_as_printf();
}

/* top's columns: a value never wider than its cell, and as exact as the cell allows. */
static void test_fit(void)
{
	static const struct {
		__u64 ns;
		size_t width;
		const char *want;
	} d[] = {
		{ 705, 8, "705ns" },
		{ 99999000, 8, "99.999ms" },		/* text's own form while it fits */
		{ 176685000, 8, "176.69ms" },		/* the pause that pushed RSS off 80 columns */
		{ 176685000, 9, "176.685ms" },
		{ 999996000, 8, "1000.0ms" },		/* rounds up out of two decimals */
		{ 12345678901ULL, 10, "12345.68ms" },
		{ 12345678901ULL, 8, "12.346s" },
		{ 999999999999ULL, 8, "1000.00s" },
		{ 3600000000000ULL, 8, "3600.00s" },
		{ 123456789000000ULL, 8, "123457s" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		text__duration_fit(buf, sizeof(buf), d[i].ns, d[i].width);
		CHECK(!strcmp(buf, d[i].want), "%llu ns in %zu: %s, not %s",
		      (unsigned long long)d[i].ns, d[i].width, buf, d[i].want);
	}
	/* every value up to a day, in the widths top uses: never wider */
	for (__u64 ns = 1; ns < 86400000000000ULL; ns = ns * 3 + 7)
		for (size_t w = 8; w <= 10; w++)
			CHECK(strlen(text__duration_fit(buf, sizeof(buf), ns, w)) <= w,
			      "%llu ns: %s wider than %zu", (unsigned long long)ns, buf, w);
	CHECK_STR(text__percent_fit(buf, sizeof(buf), 84.494, 5), "84.49");
	CHECK_STR(text__percent_fit(buf, sizeof(buf), 106.3, 5), "106.3");
	CHECK_STR(text__percent_fit(buf, sizeof(buf), 199.96, 5), "200.0");
	CHECK_STR(text__percent_fit(buf, sizeof(buf), 1234.5, 5), "1234");
}

static void test_formats(void)
{
	CHECK(output__format("text") == &text_sink, "text");
	CHECK(output__format("jsonl") == &jsonl_sink, "jsonl");
	CHECK(output__format("json") == &jsonl_sink, "json");
	CHECK(output__format("chrome") == &chrome_sink, "chrome");
	CHECK(output__format("perfetto") == &chrome_sink, "perfetto");
	CHECK(output__format("xml") == NULL, "xml");
	CHECK(output__format("") == NULL, "empty");
	CHECK(output__format("folded") == &folded_sink, "folded");
	CHECK_STR(output__format_names(), "text, jsonl, chrome, folded or html");
	CHECK(jsonl_sink.machine && chrome_sink.machine && folded_sink.machine && !text_sink.machine,
	      "machine");
}

/* A kernel histogram as the BPF side would count these pauses. */
/* Test pids no process has (beyond pid_max): nothing real in /proc. */
#define P(n) (2000000000 + (n))

static void hist_of(struct gc_hist *h, const __u64 *ns, int n, __s64 collected)
{
	int i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < n; i++)
		hdr__add(h, ns[i], collected, 1);
}

static void set(struct totals *t, __u32 pid, int gen, const __u64 *ns, int n, __s64 collected)
{
	static struct gc_hist h;
	struct gc_hist_key key = { .pid = pid, .gen = gen };

	hist_of(&h, ns, n, collected);
	totals__set_hist(t, &key, &h);
}

static void fill(struct totals *t)
{
	static const __u64 w0[] = { 100, 300, 200 }, w2[] = { 1ull << 33 }, m1[] = { 7 };
	struct proc_totals *p;
	int i;

	totals__init(t, false, NULL);
	p = totals__proc(t, P(10), "worker");
	snprintf(p->id.container, sizeof(p->id.container), "0123456789ab");
	snprintf(p->id.service, sizeof(p->id.service), "app.service");
	totals__proc(t, P(5), "main");
	set(t, P(10), 0, w0, 3, 4);
	set(t, P(10), 2, w2, 1, 50);
	set(t, P(5), 1, m1, 1, 0);
	/* Many processes: the array grows. */
	for (i = 0; i < 40; i++) {
		__u64 ns = i + 1;
		char comm[16];

		snprintf(comm, sizeof(comm), "many%d", i);
		totals__proc(t, P(1000 + i), comm);
		set(t, P(1000 + i), 0, &ns, 1, i);
	}
	t->counters[GC_CNT_LOST] = 3;
	t->counters[GC_CNT_READ_ERRORS] = 4;
	t->counters[GC_CNT_NO_ENTRY] = 5;
}

static void test_totals(void)
{
	struct pause_rows rows;
	struct totals t;
	const struct pause_row *r;
	pid_t gone[4];
	int i;

	fill(&t);
	CHECK_EQ(t.procs.nr, 42);
	if (!CHECK_EQ(totals__rows(&t, false, &rows), 0))
		return;
	/* sorted by pid: 5 (gen 1, all), 10 (gen 0, 2, all), 40 x (gen 0, all), then totals */
	CHECK_EQ(rows.nr_procs, 42);
	CHECK_EQ(rows.nr, 2 + 3 + 80 + 4);
	r = &rows.rows[0];
	CHECK(r->proc && r->proc->pid == P(5) && r->gen == 1 && r->t.count == 1 && r->t.sum_ns == 7,
	      "first row");
	r = &rows.rows[2];
	CHECK(r->proc->pid == P(10) && r->gen == 0 && r->t.count == 3 && r->t.sum_ns == 600 &&
	      r->t.max_ns == 300 && r->t.collected == 12 && r->t.uncollectable == 3, "pid 10 gen 0");
	r = &rows.rows[4];
	CHECK(r->proc->pid == P(10) && r->gen == -1 && r->parts == 2 && r->t.count == 4 &&
	      r->t.sum_ns == 600 + (1ull << 33) && r->hist && r->hist->count == 4, "pid 10 all");
	r = &rows.rows[rows.nr - 4];
	CHECK(!r->proc && r->gen == 0 && r->t.count == 3 + 40 && r->t.sum_ns == 600 + 820,
	      "total gen 0: %llu", (unsigned long long)r->t.sum_ns);
	r = &rows.rows[rows.nr - 1];
	CHECK(!r->proc && r->gen == -1 && r->parts == 3 && r->t.count == 45, "total all");
	pause_rows__free(&rows);

	/* An interval: nothing new since the base; then one more pause of pid 5. */
	CHECK_EQ(totals__rows(&t, true, &rows), 0);
	CHECK_EQ(rows.nr, 2 + 3 + 80 + 4);	/* the first interval: everything so far */
	pause_rows__free(&rows);
	CHECK_EQ(totals__rows(&t, true, &rows), 0);
	CHECK_EQ(rows.nr, 0);
	pause_rows__free(&rows);
	{
		static const __u64 m1[] = { 7, 9 };

		set(&t, P(5), 1, m1, 2, 0);
	}
	CHECK_EQ(totals__rows(&t, true, &rows), 0);
	CHECK(rows.nr == 4 && rows.rows[0].t.count == 1 && rows.rows[0].t.sum_ns == 9 &&
	      rows.rows[0].t.max_ns == 9, "interval: %d rows", rows.nr);
	pause_rows__free(&rows);

	/* Retiring: a pid that exited (no such process) keeps its counts, loses its buckets,
	 * and the totals keep its pauses. */
	for (i = 0; i < t.procs.nr; i++)
		if (t.procs.items[i].pid == P(1039))
			t.procs.items[i].exited_ns = 1;
	CHECK_EQ(totals__retire(&t, 1 + 1000, 1000, gone, 4), 1);
	CHECK_EQ(gone[0], P(1039));
	CHECK_EQ(totals__rows(&t, false, &rows), 0);
	r = &rows.rows[rows.nr - 4];
	CHECK(!r->proc && r->gen == 0 && r->t.count == 43 && r->hist &&
	      hdr__percentile(r->hist, 1.0) == 300, "totals keep the retired pauses");
	for (i = 0; i < rows.nr; i++)
		if (rows.rows[i].proc && rows.rows[i].proc->pid == P(1039))
			CHECK(!rows.rows[i].hist && rows.rows[i].t.count == 1 &&
			      rows.rows[i].t.sum_ns == 40, "retired row");
	pause_rows__free(&rows);
	/* a new process with the retired pid gets its own row */
	CHECK(totals__proc(&t, P(1039), "reborn") != NULL && t.procs.nr == 43, "pid reused");
	totals__free(&t);
}

static void test_jsonl_reports(void)
{
	struct sink_config cfg = { .stats = true, .intervals = true };
	struct mem_sink m;
	struct totals t;
	char *out;

	fill(&t);
	sink_begin(&m, &jsonl_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000000000);
	out = sink_end(&m, false);
	/* --stats rows (per process: gens + all; 4 totals), summaries, counters */
	CHECK_PY(out, "all(d['type'] in ('stats', 'summary', 'counters') for d in D)");
	CHECK_PY(out, "len([d for d in D if d['type'] == 'stats']) == 2 + 3 + 80 + 4");
	CHECK_PY(out, "len([d for d in D if d['type'] == 'summary']) == 1 + 2 + 40");
	CHECK_PY(out, "[d for d in D if d['type'] == 'summary'][0] == {'type': 'summary', "
		 "'pid': 2000000005, 'comm': 'main', 'cmdline': None, 'unit': None, "
		 "'container': None, 'service': 'main', 'gen': 1, 'count': 1, 'total_ns': 7, "
		 "'max_ns': 7, 'collected': 0, 'uncollectable': 1}");
	CHECK_PY(out, "D[-1] == {'type': 'counters', 'lost': 3, 'read_errors': 4, "
		 "'no_entry': 5, 'hist_full': 0, 'proc_lost': 0, 'ring_stale': 0, 'foreign': 0, 'foreign_execs': 0, 'entry_reads': 0, 'stale': 0, 'unattributed': 0, "
		 "'code_records': 0, 'code_records_lost': 0, 'before_unknown': 0, 'wall_ns': 10**9}");
	CHECK_PY(out, "[d for d in D if d['type'] == 'stats' and d['pid'] is None and "
		 "d['gen'] == 'all'][0]['count'] == 45");
	CHECK_PY(out, "(lambda r: r['p50_ns'] == 200 and r['max_ns'] == 300 and r['sum_ns'] == 600 "
		 "and r['mean_ns'] == 200.0 and r['interval'] is False and r['wall_ns'] == 10**9 and "
		 "abs(r['gc_share'] - 6e-7) <= 1e-6)([d for d in D if d['type'] == 'stats' and "
		 "d['pid'] == 2000000010 and d['gen'] == 0][0])");
	free(out);

	/* Without --stats: summaries and counters only; an interval report writes nothing. */
	cfg.stats = false;
	sink_begin(&m, &jsonl_sink, &cfg, &t);
	sink_report(&m, &t, true, false, 1000);
	sink_report(&m, &t, false, true, 1000);
	out = sink_end(&m, false);
	CHECK_PY(out, "len(D) == 43 + 1 and not any(d['type'] == 'stats' for d in D)");
	free(out);
	totals__free(&t);
}

static void test_table(void)
{
	struct sink_config cfg = { .stats = false };
	struct mem_sink m;
	struct totals t;
	char *out;

	fill(&t);
	sink_begin(&m, &table_sink, &cfg, &t);
	sink_report(&m, &t, true, false, 1000);	/* no --stats: no interval tables */
	sink_report(&m, &t, false, true, 1000000000);
	out = sink_end(&m, false);
	CHECK(strstr(out, "PID") && strstr(out, "CONTAINER") && strstr(out, "MAX"), "%s", out);
	CHECK(!strstr(out, "P50") && !strstr(out, "GC(%)"), "plain table: %s", out);
	CHECK(strstr(out, "0123456789ab") && strstr(out, "worker") && strstr(out, "main"), "%s", out);
	/* units that fit: 600ns sum, 200ns mean, 8.590s max as ms */
	CHECK(strstr(out, "600ns") && strstr(out, "200ns") && strstr(out, "8589.935ms"), "%s", out);
	CHECK(strstr(out, "\ntotal ") != NULL, "totals of several processes: %s", out);
	CHECK(strstr(out, "Lost: 3 events"), "%s", out);
	/* header, 1 + 2 + 40 rows, 3 total rows (per gen), lost; and the blank line */
	CHECK_EQ(count_lines(out), 1 + 1 + 43 + 3 + 1);
	free(out);

	cfg.stats = true;
	cfg.table = TABLE_MD;
	sink_begin(&m, &table_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000000000);
	out = sink_end(&m, false);
	CHECK(strstr(out, "| PID | COMM | SERVICE | CONTAINER | GEN | COUNT | SUM | MEAN | P50 | P90 | "
		      "P95 | P99 | MAX | GC(%) |\n|---|---|---|---|---:|"), "%s", out);
	CHECK(strstr(out, "| 2000000010 | worker | app.service | 0123456789ab | all | 4 |"), "%s", out);
	CHECK(strstr(out, "| total | - | - | - | all | 45 |"), "%s", out);
	free(out);
	totals__free(&t);

	/* nothing collected */
	totals__init(&t, false, NULL);
	sink_begin(&m, &table_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000);
	out = sink_end(&m, false);
	CHECK(strstr(out, "(no collections)") && !strstr(out, "Lost"), "%s", out);
	free(out);
	totals__free(&t);
}

static void test_hist(void)
{
	struct sink_config cfg = { .hist = HIST_GEN };
	struct mem_sink m;
	struct totals t;
	char *out;

	fill(&t);
	sink_begin(&m, &hist_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000);
	out = sink_end(&m, false);
	CHECK(strstr(out, "@pause_ns[gen 0]:\n") && strstr(out, "@pause_ns[gen 1]:\n") &&
	      strstr(out, "@pause_ns[gen 2]:\n"), "%s", out);
	CHECK(strstr(out, "[8G, 16G)") && strstr(out, "[256, 512)"), "%s", out);
	free(out);
	cfg.hist = HIST_PID;
	sink_begin(&m, &hist_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000);
	out = sink_end(&m, false);
	CHECK(strstr(out, "@pause_ns[2000000010, worker, gen 0]:") && !strstr(out, "@pause_ns[gen 0]"),
	      "%s", out);
	free(out);
	totals__free(&t);
}

static void test_chrome(void)
{
	struct gc_event e = event();
	struct py_build b;
	struct mem_sink m;
	char *out;

	build(&b);
	sink_begin(&m, &chrome_sink, NULL, NULL);
	sink_event(&m, &e, &b);
	e.tid = 1234;
	e.ts_stop = e.ts_start + 1;
	e.long_lived_total = -1;
	e.heap_size = 77;
	sink_event(&m, &e, &b);
	out = sink_end(&m, true);
	CHECK(strstr(out, "\"heap_size\":77") && strstr(out, "\"name\":\"heap_size\",\"ph\":\"C\""),
	      "a heap_size counter: %s", out);
	free(out);

	/* whole file: valid JSON, metadata once per process and thread, slices, counters */
	sink_begin(&m, &chrome_sink, NULL, NULL);
	e = event();
	sink_event(&m, &e, &b);
	sink_event(&m, &e, &b);
	out = sink_end(&m, true);
	{
		size_t n = strlen(out);
		char *flat = malloc(n + 2), *p;

		memcpy(flat, out, n + 1);
		for (p = flat; *p; p++)
			if (*p == '\n')
				*p = ' ';
		strcat(flat, "\n");	/* room: n + 2 */
		CHECK_PY(flat, "len(D) == 1 and J[0]['displayTimeUnit'] == 'ms'");
		CHECK_PY(flat, "[x['ph'] for x in J[0]['traceEvents']] == ['M', 'M', 'X', 'C', 'C', 'X', 'C', "
			 "'C']");
		CHECK_PY(flat, "J[0]['traceEvents'][3] == {'name': 'rss_bytes', 'ph': 'C', "
			 "'ts': 1002500.0, 'pid': 1234, 'args': {'bytes': 123 * 2**20}}");
		CHECK_PY(flat, "J[0]['traceEvents'][0]['args']['name'] == 'python3 (Python 3.11.7)'");
		CHECK_PY(flat, "(lambda x: x['ts'] == 1000000.0 and x['dur'] == 2500.0 and "
			 "x['args']['reason'] == 'manual' and x['args']['collected'] == 5 and "
			 "x['name'] == 'GC gen 2')(J[0]['traceEvents'][2])");
		CHECK_PY(flat, "J[0]['traceEvents'][4]['args'] == {'objects': 100}");
		free(flat);
	}
	CHECK(strstr(out, "\"ts\":1000000.000,\"dur\":2500.000,"), "exact us: %s", out);
	free(out);

	/* The error path: started, finished without events: still valid JSON. */
	sink_begin(&m, &chrome_sink, NULL, NULL);
	out = sink_end(&m, true);
	CHECK_STR(out, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n]}\n");
	free(out);
}

static char *render(struct totals *t, bool per_pid)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	prometheus__render(f, t, per_pid);
	fclose(f);
	return out;
}

/*
 * Collections before arming (totals.h): an image's read count, lowered by the
 * first event that shows the read saw timed collections; earlier images
 * summed; the JSONL process record, the table's footnote, Prometheus.
 */
static void test_untimed(void)
{
	struct gc_counts c = { .state = GC_COUNTS_READ, .collections = { 7, 3, 1 } };
	struct gc_event e = { .pid = P(60), .gen = 1, .collections = 3, .ts_stop = 10 };
	struct sink_config cfg = { 0 };
	struct proc_totals *p;
	struct mem_sink m;
	struct totals t;
	char *out;

	totals__init(&t, false, NULL);
	totals__before(&t, P(60), &c);
	p = totals__proc(&t, P(60), NULL);
	CHECK(totals__untimed(p, 0) == 7 && totals__untimed(p, 1) == 3, "read");
	/* Its first gen-1 event is collection 3: the read's third was timed too. */
	snprintf(e.comm, sizeof(e.comm), "py");
	totals__event(&t, &e);
	e.collections = 1;	/* not the first: no effect */
	totals__event(&t, &e);
	CHECK(totals__untimed(p, 1) == 2 && totals__untimed(p, 0) == 7, "lowered once: %llu",
	      (unsigned long long)totals__untimed(p, 1));
	/* An exec: the old image's stay; the new one read anew. */
	totals__exec(&t, P(60));
	c.collections[0] = 1, c.collections[1] = 0, c.collections[2] = 0;
	totals__before(&t, P(60), &c);
	p = totals__proc(&t, P(60), NULL);
	CHECK(totals__untimed(p, 0) == 8 && totals__untimed(p, 1) == 2 &&
	      totals__untimed(p, 2) == 1 && p->image == 1, "summed over images");
	c.state = GC_COUNTS_UNKNOWN;
	snprintf(c.why, sizeof(c.why), "exited before it could be read");
	totals__before(&t, P(61), &c);

	sink_begin(&m, &jsonl_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000);
	out = sink_end(&m, false);
	CHECK_PY(out, "[d['collections_before'] for d in D if d['type'] == 'process' and "
		 "d['pid'] == 2000000060] == [[1, 0, 0]]");
	CHECK_PY(out, "[(d['collections_before'], d['collections_before_unknown']) for d in D if "
		 "d['type'] == 'process' and d['pid'] == 2000000061] == "
		 "[(None, 'exited before it could be read')]");
	CHECK_PY(out, "D[-1]['before_unknown'] == 1");
	free(out);

	sink_begin(&m, &table_sink, &cfg, &t);
	sink_report(&m, &t, false, true, 1000);
	out = sink_end(&m, false);
	CHECK(strstr(out, "11 collections ran before gcbpf armed pid 2000000060: g0 8, g1 2, g2 1; "
		      "not timed\n") && strstr(out, "unknown for 1 process (their memory"),
	      "table footnote: %s", out);
	free(out);

	out = render(&t, false);
	CHECK(strstr(out, "python_gc_collections_untimed_total{service=\"py\",generation=\"0\"} "
		      "8\n") && strstr(out, "gcbpf_collections_before_unknown_total 1\n"),
	      "prometheus: %s", out);
	free(out);
	totals__free(&t);
}

static void test_prometheus(void)
{
	struct totals t;
	char *out, *p;
	pid_t gone[4];
	int i;

	fill(&t);
	snprintf(t.procs.items[0].id.service, sizeof(t.procs.items[0].id.service), "we\"ird\\\n");
	t.procs.items[0].long_lived_total = 123;
	/* per process */
	out = render(&t, true);
	CHECK(strstr(out, "# TYPE python_gc_duration_seconds histogram\n"), "%s", out);
	CHECK(strstr(out, "python_gc_duration_seconds_bucket{service=\"we\\\"ird\\\\\\n\","
		      "container=\"0123456789ab\",pid=\"2000000010\",generation=\"0\",le=\"+Inf\"} 3\n"), "%s", out);
	CHECK(strstr(out, "python_gc_duration_seconds_count{service=\"we\\\"ird\\\\\\n\","
		      "container=\"0123456789ab\",pid=\"2000000010\",generation=\"0\"} 3\n"), "%s", out);
	CHECK(strstr(out, "python_gc_duration_seconds_bucket{service=\"we\\\"ird\\\\\\n\","
		      "container=\"0123456789ab\",pid=\"2000000010\",generation=\"2\",le=\"5\"} 0\n"), "%s", out);
	CHECK(strstr(out, "python_gc_duration_seconds_bucket{service=\"we\\\"ird\\\\\\n\","
		      "container=\"0123456789ab\",pid=\"2000000010\",generation=\"2\",le=\"10\"} 1\n"), "%s", out);
	CHECK(strstr(out, "python_gc_long_lived_objects{service=\"we\\\"ird\\\\\\n\","
		      "container=\"0123456789ab\",pid=\"2000000010\"} 123\n"), "%s", out);
	CHECK(!strstr(out, "python_gc_heap_objects"), "no heap gauge without values: %s", out);
	CHECK(strstr(out, "gcbpf_events_lost_total 3\n") && strstr(out, "gcbpf_read_errors_total 4\n"),
	      "%s", out);
	CHECK(strstr(out, "gcbpf_build_info{version=\""), "%s", out);
	/* every line: a comment or a sample; no raw newline inside a label */
	for (p = out; *p; p = strchr(p, '\n') + 1)
		CHECK(*p == '#' || !strncmp(p, "python_gc_", 10) || !strncmp(p, "gcbpf_", 6),
		      "line: %.60s", p);
	free(out);

	/* per service: the 40 "many" processes have no /proc identity here: each its own
	 * job (comm); the two named ones too. Retire one "many" and one worker-like: its
	 * pauses stay in its service's counters. */
	out = render(&t, false);
	CHECK(!strstr(out, "pid=\""), "no pid label by default: %.300s", out);
	CHECK(strstr(out, "python_gc_collections_total{service=\"main\",generation=\"1\"} 1\n"),
	      "%s", out);
	CHECK(strstr(out, "python_gc_processes{service=\"main\"} 1\n"), "%s", out);
	free(out);
	for (i = 0; i < t.procs.nr; i++)
		if (t.procs.items[i].pid == P(5))
			t.procs.items[i].exited_ns = 1;
	CHECK_EQ(totals__retire(&t, 1 + 1000, 1000, gone, 4), 1);
	out = render(&t, false);
	CHECK(strstr(out, "python_gc_collections_total{service=\"main\",generation=\"1\"} 1\n"),
	      "a retired process's pauses stay in its service: %s", out);
	CHECK(strstr(out, "python_gc_processes{service=\"main\"} 0\n"), "no live process: %s", out);
	free(out);
	/* a second process of the same service adds to it */
	{
		static const __u64 two[] = { 1000, 2000 };
		struct proc_totals *q = totals__proc(&t, P(77), "main");

		snprintf(q->id.service, sizeof(q->id.service), "main");
		q->service = t.procs.items[0].service;	/* placeholder, fixed below */
		for (i = 0; i < t.services.nr; i++)
			if (!strcmp(t.services.items[i].name, "main"))
				q->service = i;
		set(&t, P(77), 1, two, 2, 0);
	}
	out = render(&t, false);
	CHECK(strstr(out, "python_gc_collections_total{service=\"main\",generation=\"1\"} 3\n"),
	      "retired 1 + live 2: %s", out);
	free(out);
	/* idle for the expiry: dropped */
	for (i = 0; i < t.procs.nr; i++)
		if (t.procs.items[i].pid == P(77))
			t.procs.items[i].exited_ns = 1;
	CHECK_EQ(totals__retire(&t, 2000, 1000, gone, 4), 1);
	totals__expire_services(&t, 2000 + 500, 1000);
	out = render(&t, false);
	CHECK(strstr(out, "service=\"main\""), "not yet expired: %s", out);
	free(out);
	totals__expire_services(&t, 2000 + 1000, 1000);
	out = render(&t, false);
	CHECK(!strstr(out, "service=\"main\""), "expired: %s", out);
	free(out);
	totals__free(&t);
}

static void test_identity(void)
{
	static const char gunicorn[] = "/usr/bin/python3\0/usr/bin/gunicorn\0app:app\0-w\0004\0";
	static const char celery[] = "python3.11\0-X\0dev\0-m\0celery\0worker\0--password=s3cret\0";
	static const char script[] = "/usr/bin/python3.11\0-u\0/srv/app/main.py\0--port\0008080\0";
	static const char dash_c[] = "python3\0-c\0import secret; print(1)\0";
	static const char embed[] = "/usr/sbin/uwsgi\0--ini\0/etc/app.ini\0";
	static const char cg_unit[] = "0::/system.slice/app.service\n";
	static const char cg_user[] = "0::/user.slice/user-0.slice/user@0.service/app.slice/"
				      "worker.service\n";
	static const char cg_docker[] = "0::/system.slice/docker-0123456789abcdef0123456789abcdef"
					"0123456789abcdef0123456789abcdef.scope\n";
	struct identity id;

	identity__from(&id, gunicorn, sizeof(gunicorn) - 1, cg_unit, "gunicorn", false);
	CHECK_STR(id.cmdline, "/usr/bin/python3 /usr/bin/gunicorn app:app -w 4");
	CHECK_STR(id.short_cmd, "gunicorn app:app -w 4");
	CHECK_STR(id.job, "gunicorn");
	CHECK_STR(id.unit, "app.service");
	CHECK_STR(id.service, "app.service");
	CHECK_STR(id.container, "");
	CHECK(id.matched, "matched without --match");

	identity__from(&id, celery, sizeof(celery) - 1, cg_docker, "python3.11", false);
	CHECK_STR(id.short_cmd, "-m celery worker --password=s3cret");
	CHECK_STR(id.job, "celery");
	CHECK_STR(id.container, "0123456789ab");
	CHECK_STR(id.service, "0123456789ab");
	identity__from(&id, celery, sizeof(celery) - 1, cg_docker, "python3.11", true);
	CHECK_STR(id.cmdline, "python3.11 -X dev -m celery");
	CHECK_STR(id.short_cmd, "-m celery");
	CHECK(!strstr(id.cmdline, "s3cret") && !strstr(id.short_cmd, "s3cret"), "hidden");

	identity__from(&id, script, sizeof(script) - 1, cg_user, "python3.11", false);
	CHECK_STR(id.job, "main");
	CHECK_STR(id.short_cmd, "main.py --port 8080");
	CHECK_STR(id.unit, "worker.service");
	identity__from(&id, dash_c, sizeof(dash_c) - 1, "", "python3", false);
	CHECK_STR(id.job, "-c");
	CHECK(!strstr(id.short_cmd, "secret"), "-c's program is not a name: %s", id.short_cmd);
	identity__from(&id, embed, sizeof(embed) - 1, NULL, "uwsgi", true);
	CHECK_STR(id.job, "uwsgi");
	CHECK_STR(id.cmdline, "/usr/sbin/uwsgi");
	CHECK_STR(id.service, "uwsgi");
	/* gone from /proc: comm names it */
	identity__from(&id, "", 0, "", "py3compile", false);
	CHECK_STR(id.service, "py3compile");
	CHECK_STR(id.short_cmd, "py3compile");
	/* hostile: a command line of 64 kB of one word, no NUL at the end */
	{
		static char big[8192];

		memset(big, 'A', sizeof(big));
		identity__from(&id, big, sizeof(big), NULL, "x", false);
		CHECK(strlen(id.cmdline) < sizeof(id.cmdline) && strlen(id.job) < sizeof(id.job),
		      "bounded");
	}
}

int main(void)
{
	have_python = system("python3 -c pass >/dev/null 2>&1") == 0;
	if (!have_python)
		SKIP("python3 not found: JSON checked by string matching only");
	test_formats();
	test_json_writer();
	test_json_writer_long();
	test_fast_formats();
	test_json_run();
	test_json_held();
	test_text_held();
	test_text_long_fields();
	test_jsonl_event();
	test_jsonl_build_fields();
	test_reasons();
	test_text();
	test_fit();
	test_totals();
	test_jsonl_reports();
	test_untimed();
	test_table();
	test_hist();
	test_chrome();
	test_prometheus();
	test_identity();
	return check_done();
}
