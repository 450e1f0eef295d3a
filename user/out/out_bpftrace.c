// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "out/out_bpftrace.h"

/* s inside single quotes for sh: ' becomes '\''. */
static void sh_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static bool is_clone(const char *name)
{
	return strchr(name, '.') != NULL;
}

void oneliner__print(FILE *f, const struct py_build *b, const char *path, pid_t pid,
		     char *const *cmd)
{
	const struct py_version *v = b->ver;
	char prog[8192], gen[32], key[64], hist[64];
	size_t n = 0;
	int i;
	bool clones = v->arg_gen < 0;	/* no plain collector: only clones (3.8) */

	for (i = 0; i < b->nr_points && b->probe == GC_PROBE_UPROBE; i++)
		/* A GCC clone (.constprop/.isra) whose registers py_build vouches for
		 * (GC_PROBE_GEN_ESI, e.g. LTO's .lto_priv.N) keeps the generation. */
		clones |= is_clone(b->points[i].name) &&
			  !(b->points[i].flags & GC_PROBE_GEN_ESI);

	if (b->probe == GC_PROBE_USDT) {
		fprintf(f, "# %s, Python %s: USDT python:gc__start(%s) / gc__done(%s)\n", path,
			b->version, v->usdt_start_arg, v->usdt_done_arg);
		snprintf(gen, sizeof(gen), "arg0");
	} else if (clones) {
		fprintf(f, "# %s, Python %s: no USDT; uprobe + uretprobe on %s%s. The generation "
			"is not in a known argument register of GCC's clones, so collections are "
			"counted per process only; gcbpf gives the generation.\n", path, b->version,
			b->points[0].name, b->nr_points > 1 ? " and its clones" : "");
		gen[0] = 0;
	} else {
		int reg = v->arg_gen;

		fprintf(f, "# %s, Python %s: no USDT; uprobe + uretprobe on %s, generation from "
			"arg%d\n", path, b->version, b->points[0].name, reg);
		if (v->entry_may_not_collect)
			fprintf(f, "# Python %s: automatic entries pass generation %d and may "
				"return without collecting; they are counted under gen %d, which "
				"this one-liner cannot tell apart from real collections (gcbpf can)\n",
				v->name, v->auto_gen, v->auto_gen);
		snprintf(gen, sizeof(gen), "arg%d", reg);
	}
	if (gen[0]) {
		snprintf(key, sizeof(key), "pid, comm, @gen[tid]");
		snprintf(hist, sizeof(hist), "@pause_ns[@gen[tid]]");
	} else {
		snprintf(key, sizeof(key), "pid, comm");
		snprintf(hist, sizeof(hist), "@pause_ns");
	}
	n += snprintf(prog + n, sizeof(prog) - n,
		      "BEGIN { printf(\"Tracing CPython GC... Hit Ctrl-C to end.\\n\"); } ");
	if (b->probe == GC_PROBE_USDT) {
		n += snprintf(prog + n, sizeof(prog) - n,
			      "usdt:%s:python:gc__start { @start[tid] = nsecs; @gen[tid] = %s; } "
			      "usdt:%s:python:gc__done /@start[tid]/ { ", path, gen, path);
	} else {
		for (i = 0; i < b->nr_points && n < sizeof(prog); i++)
			n += snprintf(prog + n, sizeof(prog) - n, "%suprobe:%s:%s", i ? "," : "",
				      path, b->points[i].name);
		n += snprintf(prog + n, sizeof(prog) - n, " { @start[tid] = nsecs;%s%s%s } ",
			      gen[0] ? " @gen[tid] = " : "", gen, gen[0] ? ";" : "");
		for (i = 0; i < b->nr_points && n < sizeof(prog); i++)
			n += snprintf(prog + n, sizeof(prog) - n, "%suretprobe:%s:%s", i ? "," : "",
				      path, b->points[i].name);
		n += snprintf(prog + n, sizeof(prog) - n, " /@start[tid]/ { ");
	}
	if (n < sizeof(prog))
		snprintf(prog + n, sizeof(prog) - n,
			 "@collections[%s] = count(); %s = hist(nsecs - @start[tid]); "
			 "delete(@start[tid]);%s }", key, hist, gen[0] ? " delete(@gen[tid]);" : "");
	fputs("bpftrace ", f);
	if (pid > 0) {
		fprintf(f, "-p %d", pid);
	} else if (cmd) {
		char line[4096];
		size_t m = 0;

		for (i = 0; cmd[i] && m < sizeof(line); i++)
			m += snprintf(line + m, sizeof(line) - m, "%s%s", i ? " " : "", cmd[i]);
		fputs("-c ", f);
		sh_quote(f, line);
	}
	fputs(" -e ", f);
	sh_quote(f, prog);
	fputc('\n', f);
}
