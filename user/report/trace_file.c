// SPDX-License-Identifier: GPL-2.0
/*
 * Reads what -f jsonl wrote (out_jsonl.c) with json-c, whose integers are
 * exact 64-bit (a CLOCK_MONOTONIC ns needs more than a double's 53 bits).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "report/trace_file.h"
#include "util/log.h"

void trace__init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
}

static __u64 str_hash(const char *s)
{
	__u64 h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* s, kept once: equal strings are equal pointers (stack_agg compares pointers). NULL: no memory. */
static const char *intern(struct trace *t, const char *s)
{
	size_t k, i;

	if ((t->strs_used + 1) * 2 > t->strs_cap) {
		size_t cap = t->strs_cap ? 2 * t->strs_cap : 1024;
		char **strs = calloc(cap, sizeof(*strs));

		if (!strs)
			return NULL;
		for (i = 0; i < t->strs_cap; i++) {
			if (!t->strs[i])
				continue;
			for (k = str_hash(t->strs[i]) & (cap - 1); strs[k]; k = (k + 1) & (cap - 1))
				;
			strs[k] = t->strs[i];
		}
		free(t->strs);
		t->strs = strs;
		t->strs_cap = cap;
	}
	for (k = str_hash(s) & (t->strs_cap - 1); t->strs[k]; k = (k + 1) & (t->strs_cap - 1))
		if (!strcmp(t->strs[k], s))
			return t->strs[k];
	t->strs[k] = strdup(s);
	if (t->strs[k])
		t->strs_used++;
	return t->strs[k];
}

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* An integer field; def when absent or null (JSON null is "unknown", -1 in gc_event). */
static __s64 int_field(struct json_object *o, const char *key, __s64 def)
{
	struct json_object *v = field(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

static __u64 uint_field(struct json_object *o, const char *key)
{
	struct json_object *v = field(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : 0;
}

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v = field(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The process (file, pid), created on first mention. -1: no memory. */
static int proc_of(struct trace *t, int file, pid_t pid, const char *comm)
{
	struct rec_proc *p;
	int i;

	for (i = t->procs.nr - 1; i >= 0; i--)
		if (t->procs.items[i].pid == pid && t->procs.items[i].file == file)
			return i;
	p = vec_push(&t->procs);
	if (!p)
		return -1;
	p->file = file;
	p->pid = pid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm && comm[0] ? comm : "?");
	/* until a process record says more: named by its comm, as live with /proc gone */
	identity__from(&p->id, "", 0, "", p->comm, false);
	return t->procs.nr - 1;
}

/* cmdline, unit, container, service as the record says; the short forms from the command line. */
static void describe(struct rec_proc *p, struct json_object *o)
{
	const char *cmd = str_field(o, "cmdline"), *unit = str_field(o, "unit");
	const char *container = str_field(o, "container"), *service = str_field(o, "service");
	char argv[IDENTITY_CMDLINE_LEN];
	size_t len = 0;

	if (cmd) {
		/* argv joined by spaces: split again (an argument's own spaces split too) */
		len = snprintf(argv, sizeof(argv), "%s", cmd);
		if (len >= sizeof(argv))
			len = sizeof(argv) - 1;
		for (size_t i = 0; i < len; i++)
			if (argv[i] == ' ')
				argv[i] = '\0';
	}
	identity__from(&p->id, argv, len, "", p->comm, false);
	snprintf(p->id.cmdline, sizeof(p->id.cmdline), "%s", cmd ? cmd : "");
	snprintf(p->id.unit, sizeof(p->id.unit), "%s", unit ? unit : "");
	snprintf(p->id.container, sizeof(p->id.container), "%s", container ? container : "");
	if (service)
		snprintf(p->id.service, sizeof(p->id.service), "%s", service);
	p->described = true;
}

/* The build an event names ("python", "probe", "binary"): one struct per distinct triple. */
static int build_of(struct trace *t, const char *python, const char *probe, const char *binary)
{
	/* 0: not said ("none") */
	unsigned int kind = !probe ? 0 : !strcmp(probe, "usdt") ? GC_PROBE_USDT
			       : !strcmp(probe, "uprobe") ? GC_PROBE_UPROBE : 0;
	struct py_build *b, **slot;
	int i;

	if (!python && !binary)
		return -1;
	for (i = 0; i < t->builds.nr; i++) {
		b = t->builds.items[i];
		if (b->probe == kind && !strcmp(b->version, python ? python : "") &&
		    !strcmp(b->display_path, binary ? binary : ""))
			return i;
	}
	b = calloc(1, sizeof(*b));
	slot = b ? vec_push(&t->builds) : NULL;
	if (!slot) {
		free(b);
		return -1;
	}
	*slot = b;
	b->probe = kind;
	snprintf(b->version, sizeof(b->version), "%s", python ? python : "");
	snprintf(b->display_path, sizeof(b->display_path), "%s", binary ? binary : "");
	return t->builds.nr - 1;
}

static int read_stack(struct trace *t, struct rec_event *ev, struct json_object *stack)
{
	struct json_object *v = field(stack, "stack_truncated");
	struct json_object *frames = field(stack, "stack");
	size_t i, n;

	ev->has_stack = true;
	if (!frames || !json_object_is_type(frames, json_type_array)) {
		ev->stack_null = true;
		return 0;
	}
	ev->truncated = v && json_object_get_boolean(v);
	n = json_object_array_length(frames);
	if (n > GCBPF_MAX_STACK)
		n = GCBPF_MAX_STACK;	/* more than the tracer ever walks: cut, said as cut */
	if (!n)
		return 0;
	ev->frames = calloc(n, sizeof(*ev->frames));
	if (!ev->frames)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(frames, i);
		const char *func = str_field(f, "func"), *file = str_field(f, "file");

		ev->frames[i].func = intern(t, func ? func : "?");
		ev->frames[i].file = intern(t, file ? file : "?");
		ev->frames[i].line = int_field(f, "line", -1);
		if (!ev->frames[i].func || !ev->frames[i].file)
			return -ENOMEM;
	}
	ev->nr_frames = n;
	return 0;
}

static int reason_of(const char *name)
{
	static const char *const names[] = { "heap", "shutdown", "manual" };
	int i;

	for (i = 0; name && i < 3; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

static int read_event(struct trace *t, int file, struct json_object *o)
{
	const char *comm = str_field(o, "comm");
	struct rec_file *f = &t->files.items[file];
	struct rec_event *ev;
	struct gc_event *e;
	__s64 gen = int_field(o, "gen", -1);
	int proc;

	if (gen < 0 || gen > 2 || !field(o, "pid") || !field(o, "ts_start") || !field(o, "ts_stop"))
		return -EINVAL;
	proc = proc_of(t, file, int_field(o, "pid", 0), comm);
	ev = proc >= 0 ? vec_push(&t->events) : NULL;
	if (!ev)
		return -ENOMEM;
	e = &ev->e;
	ev->proc = proc;
	e->pid = int_field(o, "pid", 0);
	e->tid = int_field(o, "tid", e->pid);
	snprintf(e->comm, sizeof(e->comm), "%s", comm ? comm : "?");
	e->iid = int_field(o, "iid", -1);
	e->gen = gen;
	e->reason = reason_of(str_field(o, "reason"));
	e->ts_start = uint_field(o, "ts_start");
	e->ts_stop = uint_field(o, "ts_stop");
	if (e->ts_stop < e->ts_start)
		return -EINVAL;
	e->collected = int_field(o, "collected", -1);
	e->uncollectable = int_field(o, "uncollectable", -1);
	if (e->collected < 0 && e->uncollectable < 0)
		e->flags |= GC_EV_READ_ERROR;
	e->heap_size = int_field(o, "heap_size", -1);
	e->long_lived_total = int_field(o, "long_lived_total", -1);
	e->long_lived_pending = int_field(o, "long_lived_pending", -1);
	e->candidates = int_field(o, "candidates", -1);
	e->collections = int_field(o, "collections", -1);
	e->cgroup_id = uint_field(o, "cgroup");
	e->rss = int_field(o, "rss", -1);
	ev->build = build_of(t, str_field(o, "python"), str_field(o, "probe"),
			     str_field(o, "binary"));
	e->probe = ev->build >= 0 ? t->builds.items[ev->build]->probe : 0;
	if (field(o, "stack") && read_stack(t, ev, o))
		return -ENOMEM;
	t->procs.items[proc].events[gen]++;
	if (!f->first_ns || e->ts_start < f->first_ns)
		f->first_ns = e->ts_start;
	if (e->ts_stop > f->last_ns)
		f->last_ns = e->ts_stop;
	return 0;
}

static int read_summary(struct trace *t, int file, struct json_object *o)
{
	__s64 gen = int_field(o, "gen", -1);
	struct gen_totals *k;
	struct rec_proc *p;
	int proc;

	if (gen < 0 || gen > 2 || !field(o, "pid"))
		return -EINVAL;
	proc = proc_of(t, file, int_field(o, "pid", 0), str_field(o, "comm"));
	if (proc < 0)
		return -ENOMEM;
	p = &t->procs.items[proc];
	if (!p->described)
		describe(p, o);
	k = &p->kernel[gen];
	p->summarized[gen] = true;
	k->count = uint_field(o, "count");
	k->sum_ns = uint_field(o, "total_ns");
	k->max_ns = uint_field(o, "max_ns");
	k->collected = uint_field(o, "collected");
	k->uncollectable = uint_field(o, "uncollectable");
	return 0;
}

static void read_counters(struct trace *t, int file, struct json_object *o)
{
	static const struct { const char *name; int idx; } names[] = {
		{ "lost", GC_CNT_LOST }, { "read_errors", GC_CNT_READ_ERRORS },
		{ "no_entry", GC_CNT_NO_ENTRY }, { "hist_full", GC_CNT_HIST_FULL },
		{ "proc_lost", GC_CNT_PROC_LOST }, { "ring_stale", GC_CNT_RING_STALE },
		{ "foreign", GC_CNT_FOREIGN }, { "foreign_execs", GC_CNT_FOREIGN_EXEC },
		{ "entry_reads", GC_CNT_ENTRY_READS }, { "stale", GC_CNT_STALE },
		{ "unattributed", GC_CNT_UNATTRIBUTED },
	};
	struct rec_file *f = &t->files.items[file];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		t->counters[names[i].idx] += uint_field(o, names[i].name);
	f->has_counters = true;
	if (field(o, "wall_ns")) {
		f->wall_ns = uint_field(o, "wall_ns");
		f->has_wall = true;
	}
}

/* One line's record. 0, -EINVAL (not a record gcbpf writes), -ENOMEM. */
static int read_record(struct trace *t, int file, struct json_object *o)
{
	const char *type = str_field(o, "type");
	int proc;

	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	if (!type)
		return read_event(t, file, o);
	if (!strcmp(type, "process")) {
		if (!field(o, "pid"))
			return -EINVAL;
		proc = proc_of(t, file, int_field(o, "pid", 0), str_field(o, "comm"));
		if (proc < 0)
			return -ENOMEM;
		describe(&t->procs.items[proc], o);
	} else if (!strcmp(type, "summary")) {
		return read_summary(t, file, o);
	} else if (!strcmp(type, "counters")) {
		read_counters(t, file, o);
	}
	/* "stats" rows: what report computes again; other types: a newer gcbpf's, skipped */
	return 0;
}

int trace__read(struct trace *t, const char *path)
{
	struct json_tokener *tok = json_tokener_new();
	struct rec_file *f = vec_push(&t->files);
	size_t cap = 0, lineno = 0;
	char *line = NULL;
	int file = t->files.nr - 1, err = 0;
	FILE *in;
	ssize_t len;

	if (!tok || !f) {
		p_err("cannot read %s: out of memory", path);
		if (tok)
			json_tokener_free(tok);
		return -1;
	}
	f->path = path;
	in = strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!in) {
		p_err("cannot open the trace %s: %s", path, strerror(errno));
		json_tokener_free(tok);
		return -1;
	}
	while (!err && (len = getline(&line, &cap, in)) > 0) {
		bool last = line[len - 1] != '\n';
		struct json_object *o;
		enum json_tokener_error jerr;

		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, line, len);
		jerr = json_tokener_get_error(tok);
		if (!o || jerr != json_tokener_success || json_tokener_get_parse_end(tok) != (size_t)len) {
			if (o)
				json_object_put(o);
			if (last) {
				/* a writer killed mid-line: the records before it stand */
				p_warn("%s:%zu: the last line is cut (the writer was killed?): ignored",
				       path, lineno);
				f->truncated = true;
				break;
			}
			p_err("%s:%zu: not a JSON record (%s): expected what gcbpf -f jsonl writes",
			      path, lineno, jerr != json_tokener_success ? json_tokener_error_desc(jerr)
									: "trailing characters");
			err = -1;
			break;
		}
		err = read_record(t, file, o);
		json_object_put(o);
		if (err == -EINVAL)
			p_err("%s:%zu: not a gcbpf record (no gen 0-2, pid or times): expected what "
			      "gcbpf -f jsonl writes", path, lineno);
		else if (err)
			p_err("%s:%zu: out of memory", path, lineno);
	}
	if (!err && ferror(in)) {
		p_err("cannot read the trace %s: %s", path, strerror(errno));
		err = -1;
	}
	free(line);
	json_tokener_free(tok);
	if (in != stdin)
		fclose(in);
	if (err)
		return -1;
	f = &t->files.items[file];
	if (!f->has_wall) {
		f->wall_ns = f->last_ns - f->first_ns;
		p_warn("%s has no wall time (no counters record: the run was killed, or an older "
		       "gcbpf wrote it): rates and GC share use the span of its events, %.3f s",
		       path, f->wall_ns / 1e9);
	}
	return 0;
}

__u64 trace__wall_ns(const struct trace *t)
{
	__u64 wall = 0;
	int i;

	for (i = 0; i < t->files.nr; i++)
		if (t->files.items[i].wall_ns > wall)
			wall = t->files.items[i].wall_ns;
	return wall;
}

const struct py_stack *trace__stack(const struct rec_event *ev, struct py_stack *st)
{
	if (!ev->has_stack)
		return NULL;
	st->unavailable = ev->stack_null;
	st->truncated = ev->truncated;
	st->nr = ev->nr_frames;
	if (st->nr)
		memcpy(st->frames, ev->frames, st->nr * sizeof(st->frames[0]));
	return st;
}

void trace__free(struct trace *t)
{
	size_t i;
	int j;

	for (j = 0; j < t->events.nr; j++)
		free(t->events.items[j].frames);
	vec_free(&t->events);
	vec_free(&t->procs);
	for (j = 0; j < t->builds.nr; j++)
		free(t->builds.items[j]);
	vec_free(&t->builds);
	vec_free(&t->files);
	for (i = 0; i < t->strs_cap; i++)
		free(t->strs[i]);
	free(t->strs);
	memset(t, 0, sizeof(*t));
}

int trace_filter__set_gen(struct trace_filter *f, const char *arg)
{
	if (strlen(arg) != 1 || arg[0] < '0' || arg[0] > '2') {
		p_err("invalid generation '%s': expected 0, 1 or 2", arg);
		return -1;
	}
	f->gen = arg[0] - '0';
	return 0;
}

bool trace_filter__proc(const struct trace_filter *f, const struct rec_proc *p)
{
	int i;

	for (i = 0; i < f->nr_pids; i++)
		if (f->pids[i] == p->pid)
			break;
	if (f->nr_pids && i == f->nr_pids)
		return false;
	if (f->match && fnmatch(f->match, p->id.cmdline, 0))
		return false;
	return !f->service || !fnmatch(f->service, p->id.service, 0);
}

bool trace_filter__event(const struct trace_filter *f, const struct trace *t,
			 const struct rec_event *ev)
{
	__u64 origin = t->files.items[t->procs.items[ev->proc].file].first_ns;

	if (f->gen >= 0 && ev->e.gen != f->gen)
		return false;
	if (ev->e.ts_start < origin + f->since_ns)
		return false;
	return !f->until_ns || ev->e.ts_start < origin + f->until_ns;
}

__u64 trace_filter__wall_ns(const struct trace_filter *f, const struct trace *t)
{
	__u64 wall = trace__wall_ns(t);

	if (f->until_ns && f->until_ns < wall)
		wall = f->until_ns;
	return wall > f->since_ns ? wall - f->since_ns : 0;
}
