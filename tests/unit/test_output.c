// SPDX-License-Identifier: GPL-2.0
/* output: JSON lines (checked by Python's json module) and text; stats totals. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "check.h"
#include "output.h"
#include "stats.h"

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
	return e;
}

static void build(struct py_build *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->version, sizeof(b->version), "3.11.7");
	snprintf(b->display_path, sizeof(b->display_path), "/opt/we\"ird\\/libpython3.11.so.1.0");
}

/* Everything written to a memstream: into a malloc'd string the caller frees. */
struct sink {
	char *buf;
	size_t len;
	FILE *f;
};

static void sink_open(struct sink *s)
{
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
}

static char *sink_close(struct sink *s)
{
	fclose(s->f);
	return s->buf;
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
		"'python', 'probe', 'binary', 'cgroup']]";
	struct gc_event e = event();
	struct py_build b;
	struct output o;
	struct sink s;
	char *out;

	build(&b);
	sink_open(&s);
	output__init(&o, OUTPUT_JSONL, s.f, NULL);
	output__event(&o, &e, &b);
	out = sink_close(&s);
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
	sink_open(&s);
	output__init(&o, OUTPUT_JSONL, s.f, NULL);
	output__event(&o, &e, NULL);
	out = sink_close(&s);
	CHECK(count_lines(out) == 1, "one line: %s", out);
	CHECK_PY(out, "len(L) == 1 and len(K[0]) == 21");
	CHECK_PY(out, "D[0]['comm'] == 'a\"b\\\\c\\x01\\x1f\\t\\n'");
	CHECK_PY(out, "D[0]['iid'] is None and D[0]['reason'] is None and D[0]['gen'] == 0");
	CHECK_PY(out, "D[0]['python'] is None and D[0]['binary'] is None");
	CHECK_PY(out, "D[0]['probe'] == 'uprobe'");
	CHECK_PY(out, "D[0]['ts_start'] == 2**62 and D[0]['ts_stop'] == 2**62 + 123456789");
	CHECK_PY(out, "D[0]['duration_ns'] == 123456789 == D[0]['ts_stop'] - D[0]['ts_start']");
	CHECK_PY(out, "abs(D[0]['duration'] - 123.456789) < 1e-6");
	CHECK_PY(out, "all(D[0][k] is None for k in ('collected', 'uncollectable', "
		 "'collections', 'long_lived_total', 'heap_size'))");
	CHECK_PY(out, "D[0]['cgroup'] == 2**64 - 1");
	CHECK(strstr(out, "\"duration_ns\":123456789,"), "%s", out);
	free(out);

	/* A comm of all 16 bytes, no NUL. */
	e = event();
	memcpy(e.comm, "0123456789abcdef", 16);
	sink_open(&s);
	output__init(&o, OUTPUT_JSONL, s.f, NULL);
	output__event(&o, &e, NULL);
	out = sink_close(&s);
	CHECK(strstr(out, "\"comm\":\"0123456789abcdef\","), "%s", out);
	free(out);
}

static void test_reasons(void)
{
	static const char *const want[] = { "'heap'", "'shutdown'", "'manual'", "None", "None" };
	static const int reasons[] = { 0, 1, 2, 3, -1 };
	struct gc_event e = event();
	struct output o;
	struct sink s;
	char *out, expr[128];
	int i;

	sink_open(&s);
	output__init(&o, OUTPUT_JSONL, s.f, NULL);
	for (i = 0; i < 5; i++) {
		e.reason = reasons[i];
		output__event(&o, &e, NULL);
	}
	out = sink_close(&s);
	CHECK_EQ(count_lines(out), 5);
	for (i = 0; i < 5; i++) {
		snprintf(expr, sizeof(expr), "D[%d]['reason'] == %s", i, want[i]);
		CHECK_PY(out, expr);
	}
	CHECK(strstr(out, "\"reason\":\"heap\""), "%s", out);
	free(out);
}

static void test_json_string(void)
{
	struct sink s;
	char *out;

	sink_open(&s);
	json_string(s.f, "x\"y\\z\x7f\x02", 100);
	json_string(s.f, "abcdef", 3);
	json_string(s.f, "", 3);
	out = sink_close(&s);
	CHECK_STR(out, "\"x\\\"y\\\\z\x7f\\u0002\"\"abc\"\"\"");
	free(out);
}

static void test_text(void)
{
	struct gc_event e = event();
	struct output o;
	struct sink s;
	char *out, *line2, *line3;

	sink_open(&s);
	output__init(&o, OUTPUT_TEXT, s.f, NULL);
	output__event(&o, &e, NULL);
	e.flags = GC_EV_READ_ERROR;
	e.gen = 1;
	e.ts_stop = e.ts_start + 123456789;
	output__event(&o, &e, NULL);
	out = sink_close(&s);
	CHECK_EQ(count_lines(out), 3);
	CHECK_EQ(o.lines, 2);
	CHECK(!strncmp(out, "TIME", 4) && strstr(out, "PID") && strstr(out, "GEN") &&
	      strstr(out, "PAUSE(ms)"), "header: %s", out);
	line2 = strchr(out, '\n') + 1;
	line3 = strchr(line2, '\n') + 1;
	CHECK(strstr(line2, " 1234 ") && strstr(line2, " 1236 ") && strstr(line2, "python3") &&
	      strstr(line2, " 2.500 ") && strstr(line2, " 5 ") && strstr(line2, " 1\n"),
	      "event line: %s", line2);
	CHECK(strstr(line3, " 123.457 ") && strstr(line3, "?") && strstr(line3, " 1 "),
	      "read-error line: %s", line3);
	free(out);

	/* -q: nothing per event. */
	sink_open(&s);
	output__init(&o, OUTPUT_NONE, s.f, NULL);
	output__event(&o, &e, NULL);
	out = sink_close(&s);
	CHECK_STR(out, "");
	free(out);
}

static void test_parse_format(void)
{
	enum output_format f = OUTPUT_NONE;

	CHECK(!output__parse_format("text", &f) && f == OUTPUT_TEXT, "text");
	CHECK(!output__parse_format("jsonl", &f) && f == OUTPUT_JSONL, "jsonl");
	f = OUTPUT_NONE;
	CHECK(!output__parse_format("json", &f) && f == OUTPUT_JSONL, "json");
	f = OUTPUT_NONE;
	CHECK(output__parse_format("xml", &f) != 0 && f == OUTPUT_NONE, "xml");
	CHECK(output__parse_format("", &f) != 0, "empty");
}

static void add(struct stats *st, __u32 pid, const char *comm, int gen, __u64 ns,
		__s64 collected)
{
	struct gc_event e = event();

	e.pid = pid;
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	e.gen = gen;
	e.ts_start = 5000;
	e.ts_stop = 5000 + ns;
	e.collected = collected;
	e.uncollectable = collected < 0 ? -1 : 1;
	stats__add(st, &e);
}

static const struct proc_stats *proc(const struct stats *st, pid_t pid)
{
	int i;

	for (i = 0; i < st->nr; i++)
		if (st->procs[i].pid == pid)
			return &st->procs[i];
	return NULL;
}

static void test_stats_and_summary(void)
{
	const __u64 counters[GC_CNT_MAX] = { 3, 4, 5 };
	const struct proc_stats *p;
	struct stats st = { 0 };
	struct output o;
	struct sink s, h;
	char *out, *human;
	int i;

	add(&st, 10, "worker", 0, 100, 5);
	add(&st, 10, "worker", 0, 300, 7);
	add(&st, 10, "worker", 0, 200, -1);	/* read error: counted, no objects */
	add(&st, 10, "worker", 2, 1ull << 40, 50);
	add(&st, 5, "main", 1, 7, 0);
	add(&st, 10, "worker", -1, 999999, 1000);	/* no generation: ignored */
	add(&st, 10, "worker", 3, 999999, 1000);
	/* Many processes: the array grows. */
	for (i = 0; i < 40; i++)
		add(&st, 1000 + i, "many", 0, i, i);

	CHECK_EQ(st.nr, 42);
	p = proc(&st, 10);
	if (CHECK(p, "pid 10")) {
		CHECK_STR(p->comm, "worker");
		CHECK_EQ(p->gen[0].count, 3);
		CHECK_EQ(p->gen[0].total_ns, 600);
		CHECK_EQ(p->gen[0].max_ns, 300);
		CHECK_EQ(p->gen[0].collected, 12);
		CHECK_EQ(p->gen[0].uncollectable, 2);
		CHECK_EQ(p->gen[1].count, 0);
		CHECK_EQ(p->gen[2].count, 1);
		CHECK_EQ(p->gen[2].total_ns, 1ull << 40);
		CHECK_EQ(p->gen[2].max_ns, 1ull << 40);
	}
	p = proc(&st, 5);
	if (CHECK(p, "pid 5"))
		CHECK(p->gen[1].count == 1 && p->gen[1].total_ns == 7 && p->gen[0].count == 0,
		      "pid 5 gen 1");
	p = proc(&st, 1039);
	CHECK(p && p->gen[0].count == 1 && p->gen[0].total_ns == 39, "pid 1039");

	sink_open(&s);
	sink_open(&h);
	output__init(&o, OUTPUT_JSONL, s.f, h.f);
	output__summary(&o, &st, counters);
	out = sink_close(&s);
	human = sink_close(&h);
	/* Sorted by pid. */
	CHECK(st.procs[0].pid == 5 && st.procs[1].pid == 10 && st.procs[41].pid == 1039,
	      "sorted: %d %d", st.procs[0].pid, st.procs[1].pid);
	CHECK_EQ(count_lines(out), 1 + 2 + 40 + 1);
	CHECK_PY(out, "len(L) == 44 and all(d['type'] == 'summary' for d in D[:-1])");
	CHECK_PY(out, "D[0] == {'type': 'summary', 'pid': 5, 'comm': 'main', 'gen': 1, "
		 "'count': 1, 'total_ns': 7, 'max_ns': 7, 'collected': 0, 'uncollectable': 1}");
	CHECK_PY(out, "D[1] == {'type': 'summary', 'pid': 10, 'comm': 'worker', 'gen': 0, "
		 "'count': 3, 'total_ns': 600, 'max_ns': 300, 'collected': 12, "
		 "'uncollectable': 2}");
	CHECK_PY(out, "D[2]['pid'] == 10 and D[2]['gen'] == 2 and D[2]['total_ns'] == 2**40");
	CHECK_PY(out, "[d['pid'] for d in D[:-1]] == [5, 10, 10] + list(range(1000, 1040))");
	CHECK_PY(out, "K[-1] == ['type', 'lost', 'read_errors', 'no_entry'] and "
		 "D[-1] == {'type': 'counters', 'lost': 3, 'read_errors': 4, 'no_entry': 5}");
	CHECK(strstr(out, "{\"type\":\"counters\",\"lost\":3,\"read_errors\":4,\"no_entry\":5}\n"),
	      "%s", out);
	/* The human summary: a header, one row per pid/gen, a total per gen, the losses. */
	CHECK(strstr(human, "PID") && strstr(human, "MAX(ms)"), "%s", human);
	CHECK(strstr(human, "worker") && strstr(human, "main"), "%s", human);
	CHECK(strstr(human, "Lost: 3 events"), "%s", human);
	CHECK(strstr(human, "\ntotal ") != NULL, "%s", human);
	CHECK_EQ(count_lines(human), 2 + 43 + 3 + 1);
	free(out);
	free(human);
	stats__free(&st);
	CHECK(st.nr == 0 && st.procs == NULL, "freed");

	/* Nothing collected: "(no collections)", and counters alone in JSON. */
	add(&st, 77, "idle", -1, 10, 0);
	sink_open(&s);
	sink_open(&h);
	output__init(&o, OUTPUT_JSONL, s.f, h.f);
	output__summary(&o, &st, (const __u64[GC_CNT_MAX]){ 0 });
	out = sink_close(&s);
	human = sink_close(&h);
	CHECK_PY(out, "len(L) == 1 and D[0]['type'] == 'counters' and D[0]['lost'] == 0");
	CHECK(strstr(human, "(no collections)"), "%s", human);
	CHECK(!strstr(human, "Lost:"), "%s", human);
	free(out);
	free(human);
	stats__free(&st);

	/* Text format: no JSON on the event stream. */
	add(&st, 1, "x", 0, 10, 0);
	sink_open(&s);
	output__init(&o, OUTPUT_TEXT, s.f, NULL);
	output__summary(&o, &st, counters);
	out = sink_close(&s);
	CHECK_STR(out, "");
	free(out);
	stats__free(&st);
}

int main(void)
{
	have_python = system("python3 -c pass >/dev/null 2>&1") == 0;
	if (!have_python)
		SKIP("python3 not found: JSON checked by string matching only");
	test_parse_format();
	test_json_string();
	test_jsonl_event();
	test_reasons();
	test_text();
	test_stats_and_summary();
	return check_done();
}
