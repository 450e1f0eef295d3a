// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "out_chrome.h"
#include "output.h"

void chrome_trace__start(struct chrome_trace *c, FILE *f)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
	fflush(f);
	c->started = true;
}

/* Every event but the first starts with a comma: the array stays valid when cut after one. */
static void begin(struct chrome_trace *c)
{
	if (c->events++)
		fputc(',', c->f);
}

/* True the first time id is seen. The id space of pids is the one of tids. */
static bool first_time(struct chrome_trace *c, __u32 id)
{
	int i;

	for (i = c->nr_seen - 1; i >= 0; i--)
		if (c->seen[i] == id)
			return false;
	if (c->nr_seen == c->cap_seen) {
		int cap = c->cap_seen ? 2 * c->cap_seen : 64;
		__u32 *s = realloc(c->seen, cap * sizeof(*s));

		if (!s)
			return true;	/* a repeated name is harmless */
		c->seen = s;
		c->cap_seen = cap;
	}
	c->seen[c->nr_seen++] = id;
	return true;
}

static void proc_comm(__u32 pid, char *comm, size_t len, const char *fallback)
{
	char path[64];
	FILE *f;

	snprintf(comm, len, "%s", fallback);
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, len, f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

static void meta(struct chrome_trace *c, const char *what, __u32 pid, __u32 tid, const char *name)
{
	begin(c);
	fprintf(c->f, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":", what,
		pid, tid);
	json_string(c->f, name, 256);
	fputs("}}\n", c->f);
}

static void arg_count(FILE *f, const char *key, __s64 v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%lld", key, (long long)v);
}

void chrome_trace__event(struct chrome_trace *c, const struct gc_event *e, const char *python)
{
	static const char *const reasons[] = { "heap", "shutdown", "manual" };
	FILE *f = c->f;
	char comm[GCBPF_COMM_LEN + 1], name[96];
	__u64 ts = e->ts_start, dur = e->ts_stop - e->ts_start;
	const char *counter = NULL;
	__s64 heap = -1;

	if (!c->started || c->finished)
		return;
	if (first_time(c, e->pid | 0x80000000u)) {
		proc_comm(e->pid, comm, sizeof(comm), e->pid == e->tid ? e->comm : "python");
		snprintf(name, sizeof(name), "%s%s%s", comm, python ? " (Python " : "",
			 python ? python : "");
		if (python)
			strncat(name, ")", sizeof(name) - strlen(name) - 1);
		meta(c, "process_name", e->pid, e->pid, name);
	}
	if (first_time(c, e->tid)) {
		snprintf(comm, sizeof(comm), "%.*s", GCBPF_COMM_LEN, e->comm);
		meta(c, "thread_name", e->pid, e->tid, comm);
	}
	begin(c);
	fprintf(f, "{\"name\":\"GC gen %d\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":%llu.%03llu,"
		"\"dur\":%llu.%03llu,\"pid\":%u,\"tid\":%u,\"args\":{\"generation\":%d",
		e->gen, (unsigned long long)(ts / 1000), (unsigned long long)(ts % 1000),
		(unsigned long long)(dur / 1000), (unsigned long long)(dur % 1000), e->pid, e->tid,
		e->gen);
	if (e->flags & GC_EV_READ_ERROR) {
		fputs(",\"collected\":null,\"uncollectable\":null", f);
	} else {
		arg_count(f, "collected", e->collected);
		arg_count(f, "uncollectable", e->uncollectable);
	}
	arg_count(f, "heap_size", e->heap_size);
	arg_count(f, "long_lived_total", e->long_lived_total);
	if (e->reason >= 0 && e->reason < 3)
		fprintf(f, ",\"reason\":\"%s\"", reasons[(int)e->reason]);
	else
		fputs(",\"reason\":null", f);
	fprintf(f, ",\"ts_start_ns\":%llu}}\n", (unsigned long long)e->ts_start);
	/* The heap counter: tracked objects at the start (3.14+), else the
	 * objects that survived the last full collection, after this one. */
	if (e->heap_size >= 0) {
		counter = "heap_size";
		heap = e->heap_size;
	} else if (e->long_lived_total >= 0) {
		counter = "long_lived_total";
		heap = e->long_lived_total;
		ts = e->ts_stop;
	}
	if (counter) {
		begin(c);
		fprintf(f, "{\"name\":\"%s\",\"ph\":\"C\",\"ts\":%llu.%03llu,\"pid\":%u,"
			"\"args\":{\"objects\":%lld}}\n", counter, (unsigned long long)(ts / 1000),
			(unsigned long long)(ts % 1000), e->pid, (long long)heap);
	}
}

void chrome_trace__finish(struct chrome_trace *c)
{
	if (!c->started || c->finished)
		return;
	fputs("]}\n", c->f);
	fflush(c->f);
	c->finished = true;
	free(c->seen);
	c->seen = NULL;
	c->nr_seen = c->cap_seen = 0;
}
