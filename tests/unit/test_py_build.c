// SPDX-License-Identifier: GPL-2.0
/* py_build__inspect: version, layout and probe plan of fake and real libpythons. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "check.h"
#include "fixture.h"
#include "elf/elf_file.h"
#include "python/py_build.h"

/* What goes into one fake libpython. */
struct fake {
	const char *name;	/* NAME.so in the scratch directory */
	const char *soname;	/* NULL: none */
	unsigned long py_version;	/* Py_Version; 0: none */
	bool runtime;		/* a plain _PyRuntime data symbol */
	bool usdt;		/* python:gc__start/gc__done notes */
	bool strip;		/* strip --strip-all afterwards */
	bool no_pygc;		/* leave PyGC_Collect out: not Python */
	const char *funcs;	/* local STT_FUNC symbols, space-separated */
	const char *c_extra;	/* more C */
};

static bool build_fake(const struct fake *f)
{
	char c[8192], s[8192], name[64], *tok, *save = NULL, funcs[512];
	int n = 0, m = 0;

	n += snprintf(c + n, sizeof(c) - n, "static volatile int counter;\n");
	if (f->py_version)
		n += snprintf(c + n, sizeof(c) - n, "const unsigned long Py_Version = %#lx;\n",
			      f->py_version);
	if (f->runtime)
		n += snprintf(c + n, sizeof(c) - n, "char _PyRuntime[4096] = { 1 };\n");
	if (!f->no_pygc)
		n += snprintf(c + n, sizeof(c) - n, "int PyGC_Collect(void) { return counter; }\n");
	else
		n += snprintf(c + n, sizeof(c) - n, "int not_python(void) { return counter; }\n");
	if (f->c_extra)
		snprintf(c + n, sizeof(c) - n, "%s\n", f->c_extra);

	m += snprintf(s + m, sizeof(s) - m, ".text\n");
	snprintf(funcs, sizeof(funcs), "%s", f->funcs ? f->funcs : "");
	for (tok = strtok_r(funcs, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		m += snprintf(s + m, sizeof(s) - m,
			      ".type %s,@function\n%s: nop\nret\n.size %s, 2\n", tok, tok, tok);
	if (f->usdt)
		m += snprintf(s + m, sizeof(s) - m, "%s",
			      "probe_start: nop\nprobe_done: nop\nret\n"
			      ".pushsection .probes,\"aw\",@progbits\n"
			      "sema_start: .2byte 0\nsema_done: .2byte 0\n.popsection\n"
			      FX_USDT_NOTE("python", "gc__start", "probe_start", "sema_start", "0")
			      FX_USDT_NOTE("python", "gc__done", "probe_done", "sema_done", "0")
			      FX_USDT_BASE);
	snprintf(s + m, sizeof(s) - m, ".section .note.GNU-stack,\"\",@progbits\n");

	snprintf(name, sizeof(name), "%s.c", f->name);
	if (!fx_write(name, c))
		return false;
	snprintf(name, sizeof(name), "%s.s", f->name);
	if (!fx_write(name, s))
		return false;
	if (!fx_run("cc -shared -fPIC -O0 -g0 -o %s.so %s.c %s.s %s%s", f->name, f->name, f->name,
		    f->soname ? "-Wl,-soname," : "", f->soname ? f->soname : ""))
		return false;
	return !f->strip || fx_run("strip --strip-all %s.so", f->name);
}

/* A .PyRuntime section holding _Py_DebugOffsets for 3.13 (offsets per py_versions.c). */
#define DBG_313(version, ft, gc_size)						\
	"unsigned long long _PyRuntime[128] __attribute__((section(\".PyRuntime\"))) = {\n" \
	"	[0] = 0x7970677562656478ULL, /* \"xdebugpy\" */\n"		\
	"	[1] = " #version ", [2] = " #ft ",\n"				\
	"	[40 / 8] = 632, [56 / 8] = 24, [80 / 8] = 7400, [176 / 8] = 16,\n" \
	"	[568 / 8] = " #gc_size ", [576 / 8] = 200,\n"			\
	"};\n"

/* ... for 3.14 (3.14.0 and 3.14.5+ alike): the GC state's size tells them apart. */
#define DBG_314(version, gc_size)						\
	"unsigned long long _PyRuntime[128] __attribute__((section(\".PyRuntime\"))) = {\n" \
	"	[0] = 0x7970677562656478ULL, /* \"xdebugpy\" */\n"		\
	"	[1] = " #version ", [2] = 0,\n"				\
	"	[40 / 8] = 808, [56 / 8] = 24, [88 / 8] = 7408, [200 / 8] = 16,\n" \
	"	[648 / 8] = " #gc_size ", [656 / 8] = 192,\n"			\
	"};\n"

static const struct fake fakes[] = {
	{ "u311", "libpython3.11.so.1.0", 0x030b07f0, true, true, false, false,
	  "gc_collect_main gc_collect_main.cold", NULL },
	{ "n311", "libpython3.11.so.1.0", 0x030b07f0, true, false, false, false,
	  "gc_collect_main gc_collect_main.cold", NULL },
	{ "s311", "libpython3.11.so.1.0", 0x030b07f0, true, false, true, false,
	  "gc_collect_main", NULL },
	{ "su311", "libpython3.11.so.1.0", 0x030b07f0, true, true, true, false,
	  "gc_collect_main", NULL },
	{ "u38", "libpython3.8.so.1.0", 0, true, false, false, false,
	  "collect.constprop.0 collect.constprop.1 collect.cold collect.part.0 "
	  "collect.constprop.1.cold",
	  "const char *const version_string = \"3.8.18\";" },
	{ "u37", "libpython3.7m.so.1.0", 0, true, false, false, false,
	  "collect collect.constprop.0 collect_with_callback",
	  "const char *const version_string = \"3.7.16\";" },
	{ "u39", "libpython3.9.so.1.0", 0, true, false, false, false,
	  "collect collect.isra.0 collect_generations delete_garbage.constprop.0 "
	  "collect.isra.0.part.0 collect.constprop",
	  "const char *const strings[] = { \"3.2.0\", \"/root/.pyenv/versions/3.9.18\","
	  " \"3.9.18\" };" },
	{ "u39nolit", "libpython3.9.so.1.0", 0, true, false, false, false, "collect", NULL },
	{ "u36", "libpython3.6m.so.1.0", 0, false, false, false, false,
	  "collect collect.constprop.0",
	  "static long generation_stats[9] __attribute__((used));\n"
	  "const char *const version_string = \"3.6.15\";" },
	{ "s36", "libpython3.6m.so.1.0", 0, false, false, true, false,
	  "collect collect.constprop.0",
	  "static long generation_stats[9] __attribute__((used));\n"
	  "const char *const version_string = \"3.6.15\";" },
	{ "u35", "libpython3.5m.so.1.0", 0, true, false, false, false, "collect",
	  "const char *const version_string = \"3.5.10\";" },
	{ "nonpy", "libfoo.so.1", 0, true, true, false, true, "collect", NULL },
	{ "noversion", NULL, 0, true, false, false, false, "collect", NULL },
	/* Parts that do not fit a byte of the version number (found by fuzz_py_build). */
	{ "badlit", NULL, 0, true, false, false, false, "collect",
	  "const char *const strings[] = { \"3.-14.0\", \"3.300.1\", \"3.9.-1\" };" },
	{ "badsoname", "libpython3.-14.so.1.0", 0, true, false, false, false, "collect", NULL },
	{ "d313", NULL, 0, false, false, false, false, "gc_collect_main",
	  DBG_313(0x030d00f0, 0, 240) },
	{ "ft313", NULL, 0, false, false, false, false, "gc_collect_main",
	  DBG_313(0x030d00f0, 1, 248) },
	{ "bad313", NULL, 0, false, false, false, false, "gc_collect_main",
	  DBG_313(0x030d00f0, 0, 248) },
	{ "d316", NULL, 0, false, false, false, false, "gc_collect_main",
	  DBG_313(0x031000a0, 0, 240) },
	/* Both names in one file: the micro picks the collector. */
	{ "d3142", NULL, 0x030e02f0, false, false, false, false, "_PyGC_Collect gc_collect_main",
	  DBG_314(0x030e02f0, 240) },
	{ "d31410", NULL, 0x030e0af0, false, false, false, false, "_PyGC_Collect gc_collect_main",
	  DBG_314(0x030e0af0, 264) },
	/* A 3.14.10 whose GC state is the incremental one's: not guessed. */
	{ "bad31410", NULL, 0x030e0af0, false, false, false, false, "gc_collect_main",
	  DBG_314(0x030e0af0, 240) },
};

static int inspect(struct py_build *b, const char *name, bool force_uprobe, char *err,
		   size_t err_len)
{
	struct py_build_opts opts = { .force_uprobe = force_uprobe };
	char display[128];

	snprintf(display, sizeof(display), "/shown/as/%s", name);
	err[0] = 0;
	return py_build__inspect(b, fx_path(name), display, &opts, err, err_len);
}

static const struct py_probe_point *point_named(const struct py_build *b, const char *name)
{
	int i;

	for (i = 0; i < b->nr_points; i++)
		if (!strcmp(b->points[i].name, name))
			return &b->points[i];
	return NULL;
}

/* Every point's file offset, checked against libelf's PT_LOAD walk. */
static void check_offsets(const struct py_build *b, const char *file)
{
	struct elf_file ef;
	uint64_t off;
	int i;

	if (!CHECK_EQ(elf_file__open(&ef, file), 0))
		return;
	for (i = 0; i < b->nr_points; i++) {
		CHECK(b->points[i].vaddr != 0, "%s has a vaddr", b->points[i].name);
		if (CHECK_EQ(elf_file__vaddr_to_offset(&ef, b->points[i].vaddr, &off), 0))
			CHECK(b->points[i].offset == off, "%s offset %#llx, expected %#llx",
			      b->points[i].name, (unsigned long long)b->points[i].offset,
			      (unsigned long long)off);
	}
	elf_file__close(&ef);
}

/* A clone point: there, at nm's address, without argument flags. */
static void check_point(const struct py_build *b, const char *file, const char *name,
			unsigned int flags)
{
	const struct py_probe_point *p = point_named(b, name);

	if (!CHECK(p, "%s: no point %s", file, name))
		return;
	CHECK(p->vaddr == fx_nm(file, name), "%s at %#llx, nm says %#llx", name,
	      (unsigned long long)p->vaddr, (unsigned long long)fx_nm(file, name));
	CHECK(p->flags == flags, "%s flags %#x, expected %#x", name, p->flags, flags);
}

static void test_311(void)
{
	const char *file = fx_path("u311.so");
	const unsigned int args = GC_PROBE_TSTATE_RDI | GC_PROBE_GEN_ESI;
	struct py_build b;
	struct stat st;
	char err[512];

	if (!CHECK_EQ(inspect(&b, "u311.so", false, err, sizeof(err)), 0)) {
		fprintf(stderr, "  err: %s\n", err);
		return;
	}
	CHECK_STR(b.version, "3.11.7");
	CHECK_EQ(b.major, 3);
	CHECK_EQ(b.minor, 11);
	CHECK_EQ(b.micro, 7);
	CHECK_EQ(b.version_hex, 0x030b07f0);
	CHECK_STR(b.version_source, "Py_Version");
	CHECK_STR(b.path, file);
	CHECK_STR(b.display_path, "/shown/as/u311.so");
	CHECK(!stat(file, &st) && st.st_dev == b.dev && st.st_ino == b.ino, "dev/ino");
	CHECK(!b.debug && !b.free_threaded, "debug %d ft %d", b.debug, b.free_threaded);
	CHECK_EQ(b.probe, GC_PROBE_USDT);
	CHECK_STR(py_build__probe_name(b.probe), "usdt");
	if (CHECK_EQ(b.nr_points, 2)) {
		CHECK_STR(b.points[0].name, "python:gc__start");
		CHECK_STR(b.points[1].name, "python:gc__done");
		CHECK_EQ(b.points[0].vaddr, fx_nm(file, "probe_start"));
		CHECK_EQ(b.points[1].vaddr, fx_nm(file, "probe_done"));
		check_offsets(&b, file);
	}
	CHECK(strstr(b.why, "USDT"), "why: %s", b.why);
	CHECK_EQ(b.layout.anchor_vaddr, fx_nm(file, "_PyRuntime"));
	CHECK_EQ(b.layout.gc_off, 0x288);
	CHECK_EQ(b.layout.main_interp_off, 0x30);
	CHECK_EQ(b.layout.stats_off, 128);

	/* force_uprobe: the symbol, not the notes; .cold is no entry. */
	if (CHECK_EQ(inspect(&b, "u311.so", true, err, sizeof(err)), 0)) {
		CHECK_EQ(b.probe, GC_PROBE_UPROBE);
		CHECK_STR(py_build__probe_name(b.probe), "uprobe");
		CHECK_EQ(b.nr_points, 1);
		check_point(&b, file, "gc_collect_main", args);
		check_offsets(&b, file);
		CHECK_STR(b.symbols_from, ".symtab");
	}

	/* No notes: the same. */
	file = fx_path("n311.so");
	if (CHECK_EQ(inspect(&b, "n311.so", false, err, sizeof(err)), 0)) {
		CHECK_EQ(b.probe, GC_PROBE_UPROBE);
		CHECK_EQ(b.nr_points, 1);
		check_point(&b, file, "gc_collect_main", args);
		check_offsets(&b, file);
		CHECK(strstr(b.why, "gc_collect_main"), "why: %s", b.why);
	}

	/* Stripped, no notes: nothing to attach to, and the message says so. */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(inspect(&b, "s311.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "/shown/as/s311.so"), "err names the file: %s", err);
	CHECK(strstr(err, "gc_collect_main") && strstr(err, "USDT") && strstr(err, "symtab"),
	      "err says what is missing: %s", err);
	CHECK(strstr(err, "3.11.7"), "err has the version: %s", err);

	/* Stripped with notes: USDT still works; force_uprobe then cannot. */
	if (CHECK_EQ(inspect(&b, "su311.so", false, err, sizeof(err)), 0)) {
		CHECK_EQ(b.probe, GC_PROBE_USDT);
		CHECK_EQ(b.nr_points, 2);
	}
	CHECK_EQ(inspect(&b, "su311.so", true, err, sizeof(err)), -ENOTSUP);
}

static void test_38_37(void)
{
	const char *file = fx_path("u38.so");
	struct py_build b;
	char err[512];

	if (CHECK_EQ(inspect(&b, "u38.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.8.18");
		CHECK_EQ(b.minor, 8);
		CHECK_EQ(b.micro, 18);
		CHECK_STR(b.version_source, "SONAME + PY_VERSION");
		CHECK_EQ(b.probe, GC_PROBE_UPROBE);
		/* Exactly the two clones: no .cold, no .part. */
		CHECK_EQ(b.nr_points, 2);
		check_point(&b, file, "collect.constprop.0", 0);
		check_point(&b, file, "collect.constprop.1", 0);
		check_offsets(&b, file);
		CHECK(strstr(b.why, "clones"), "why: %s", b.why);
		CHECK_EQ(b.layout.anchor_vaddr, fx_nm(file, "_PyRuntime"));
		CHECK_EQ(b.layout.gc_off, 0x158);
		CHECK_EQ(b.layout.main_interp_off, -1);
		CHECK_EQ(b.layout.stats_off, 128);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}

	/* 3.7: plain collect has no tstate argument; collect_with_callback is another fn. */
	file = fx_path("u37.so");
	if (CHECK_EQ(inspect(&b, "u37.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.7.16");
		CHECK_EQ(b.nr_points, 2);
		check_point(&b, file, "collect", 0);
		check_point(&b, file, "collect.constprop.0", 0);
		CHECK_EQ(b.layout.gc_off, 0x140);
		CHECK_EQ(b.layout.stats_off, 240);
	}
}

static void test_39(void)
{
	const char *file = fx_path("u39.so");
	struct py_build b;
	char err[512];

	/* "3.2.0" is not this minor's literal; the path's tail is. */
	if (CHECK_EQ(inspect(&b, "u39.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.9.18");
		CHECK_EQ(b.minor, 9);
		CHECK_EQ(b.micro, 18);
		CHECK_EQ(b.version_hex, 0x03091200);
		CHECK_EQ(b.probe, GC_PROBE_UPROBE);
		/* collect and its .isra clone; not collect_generations, not delete_garbage. */
		CHECK_EQ(b.nr_points, 2);
		check_point(&b, file, "collect", GC_PROBE_TSTATE_RDI | GC_PROBE_GEN_ESI);
		check_point(&b, file, "collect.isra.0", 0);
		CHECK_EQ(b.layout.gc_off, 0x268);
		CHECK_EQ(b.layout.main_interp_off, 0x28);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}

	/* No literal: the SONAME's minor alone. */
	if (CHECK_EQ(inspect(&b, "u39nolit.so", false, err, sizeof(err)), 0)) {
		CHECK_EQ(b.minor, 9);
		CHECK_EQ(b.micro, 0);
		CHECK_STR(b.version_source, "SONAME");
	}
}

static void test_36(void)
{
	const char *file = fx_path("u36.so");
	struct py_build b;
	char err[512];

	if (CHECK_EQ(inspect(&b, "u36.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.6.15");
		CHECK_EQ(b.layout.anchor_vaddr, fx_nm(file, "generation_stats"));
		CHECK(b.layout.anchor_vaddr != 0, "generation_stats found by nm");
		CHECK_EQ(b.layout.gc_off, 0);
		CHECK_EQ(b.layout.stats_off, 0);
		CHECK_EQ(b.nr_points, 2);
		check_point(&b, file, "collect", 0);
		check_point(&b, file, "collect.constprop.0", 0);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}
	/* Stripped 3.6: no anchor at all. */
	CHECK_EQ(inspect(&b, "s36.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "/shown/as/s36.so") && strstr(err, "generation_stats"), "err: %s", err);
}

static void test_313(void)
{
	const char *file = fx_path("d313.so");
	const unsigned int args = GC_PROBE_TSTATE_RDI | GC_PROBE_GEN_ESI | GC_PROBE_REASON_RDX;
	struct py_build b;
	char err[512];

	if (CHECK_EQ(inspect(&b, "d313.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.13.0");
		CHECK_STR(b.version_source, "_Py_DebugOffsets");
		CHECK(!b.free_threaded, "not free-threaded");
		CHECK_EQ(b.layout.anchor_vaddr, fx_nm(file, "_PyRuntime"));
		CHECK_EQ(b.layout.gc_off, 7400);
		CHECK_EQ(b.layout.stats_off, 128);
		CHECK_EQ(b.layout.main_interp_off, 640);
		CHECK_EQ(b.layout.interp_id_off, 24);
		CHECK_EQ(b.layout.tstate_interp_off, 16);
		CHECK_EQ(b.nr_points, 1);
		check_point(&b, file, "gc_collect_main", args);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}
	CHECK_EQ(inspect(&b, "ft313.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "/shown/as/ft313.so") && strstr(err, "free-threaded"), "err: %s", err);
	CHECK_EQ(inspect(&b, "bad313.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "/shown/as/bad313.so") && strstr(err, "248"), "err: %s", err);
	CHECK_EQ(inspect(&b, "d316.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "/shown/as/d316.so") && strstr(err, "0x31000a0"), "err: %s", err);
}

/* 3.14.0-3.14.4 and 3.14.5+ are two rows: collector and counters follow the micro. */
static void test_314(void)
{
	const unsigned int args = GC_PROBE_TSTATE_RDI | GC_PROBE_GEN_ESI | GC_PROBE_REASON_RDX;
	const char *file = fx_path("d3142.so");
	struct py_build b;
	char err[512];

	if (CHECK_EQ(inspect(&b, "d3142.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.14.2");
		CHECK_STR(b.ver->name, "3.14.0-3.14.4");
		CHECK_EQ(b.nr_points, 1);
		check_point(&b, file, "_PyGC_Collect", args);
		CHECK_EQ(b.layout.gc_off, 7408);
		CHECK_EQ(b.layout.main_interp_off, 816);
		CHECK_EQ(b.layout.stats_off, 120);
		CHECK_EQ(b.layout.snap_long_lived, -1);
		CHECK_EQ(b.layout.snap_heap_size, 96);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}
	file = fx_path("d31410.so");
	if (CHECK_EQ(inspect(&b, "d31410.so", false, err, sizeof(err)), 0)) {
		CHECK_STR(b.version, "3.14.10");
		CHECK_STR(b.ver->name, "3.14.5+");
		CHECK_EQ(b.nr_points, 1);
		check_point(&b, file, "gc_collect_main", args);
		CHECK_EQ(b.layout.snap_long_lived, 120);
		CHECK_EQ(b.layout.snap_long_lived_pending, 128);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}
	CHECK_EQ(inspect(&b, "bad31410.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "/shown/as/bad31410.so") && strstr(err, "3.14.10") &&
	      strstr(err, "240") && strstr(err, "264"), "err: %s", err);
}

static void test_not_python(void)
{
	struct py_build b;
	char err[512];

	CHECK_EQ(inspect(&b, "nonpy.so", false, err, sizeof(err)), -ENOEXEC);
	CHECK(strstr(err, "/shown/as/nonpy.so") && strstr(err, "PyGC_Collect"), "err: %s", err);
	CHECK_EQ(inspect(&b, "nonpy.c", false, err, sizeof(err)), -ENOEXEC);
	CHECK(strstr(err, "/shown/as/nonpy.c") && strstr(err, "not an ELF"), "err: %s", err);
	CHECK_EQ(inspect(&b, "missing.so", false, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/shown/as/missing.so"), "err: %s", err);
	CHECK_EQ(inspect(&b, "u35.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "3.5"), "err: %s", err);
	CHECK_EQ(inspect(&b, "noversion.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "version"), "err: %s", err);
	CHECK_EQ(inspect(&b, "badlit.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "version"), "err: %s", err);
	CHECK_EQ(inspect(&b, "badsoname.so", false, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "version"), "err: %s", err);
	/* display NULL: the path is shown. */
	CHECK_EQ(py_build__inspect(&b, fx_path("nonpy.so"), NULL, NULL, err, sizeof(err)),
		 -ENOEXEC);
	CHECK(strstr(err, fx_path("nonpy.so")), "err: %s", err);
}

/* Locations readelf -n prints for python:NAME. */
static uint64_t readelf_usdt(const char *file, const char *name)
{
	char out[64];

	if (!fx_capture(out, sizeof(out),
			"readelf -n '%s' | awk '/Name: %s$/ { getline; print $2; exit }'", file,
			name))
		return 0;
	return strtoull(out, NULL, 16);
}

static bool present(const char *path)
{
	if (!access(path, R_OK))
		return true;
	SKIP("%s not present", path);
	return false;
}

static void test_real(void)
{
	static const struct {
		const char *path;
		int minor, micro;
		int gc_off;
	} pyenv[] = {
		{ "/root/.pyenv/versions/3.6.15/lib/libpython3.6m.so.1.0", 6, 15, 0 },
		{ "/root/.pyenv/versions/3.7.16/lib/libpython3.7m.so.1.0", 7, 16, 0x140 },
		{ "/root/.pyenv/versions/3.8.18/lib/libpython3.8.so.1.0", 8, 18, 0x158 },
		{ "/root/.pyenv/versions/3.9.18/lib/libpython3.9.so.1.0", 9, 18, 0x268 },
		{ "/root/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0", 10, 13, 0x268 },
		{ "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", 11, 7, 0x288 },
		{ "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", 12, 1, 0x70 },
		{ "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", 13, 0, 7400 },
	};
	const char *p;
	struct py_build b;
	char err[512];
	size_t i;

	p = "/usr/bin/python3.11";
	if (present(p) && CHECK_EQ(py_build__inspect(&b, p, NULL, NULL, err, sizeof(err)), 0)) {
		CHECK_EQ(b.major, 3);
		CHECK_EQ(b.minor, 11);
		CHECK(!strncmp(b.version, "3.11.", 5), "version %s", b.version);
		CHECK_STR(b.version_source, "Py_Version");
		CHECK(!b.debug, "release build");
		CHECK_EQ(b.probe, GC_PROBE_USDT);
		if (CHECK_EQ(b.nr_points, 2)) {
			CHECK_EQ(b.points[0].vaddr, readelf_usdt(p, "gc__start"));
			CHECK_EQ(b.points[1].vaddr, readelf_usdt(p, "gc__done"));
			check_offsets(&b, p);
		}
		CHECK_EQ(b.layout.gc_off, 0x288);
		CHECK(b.layout.anchor_vaddr != 0, "_PyRuntime");
	}
	p = "/usr/bin/python3.11d";
	if (present(p) && CHECK_EQ(py_build__inspect(&b, p, NULL, NULL, err, sizeof(err)), 0)) {
		CHECK_EQ(b.minor, 11);
		CHECK(b.debug, "python3.11d is a debug build");
		CHECK_EQ(b.probe, GC_PROBE_USDT);
		CHECK_EQ(b.layout.gc_off, 0x288);
	}

	for (i = 0; i < sizeof(pyenv) / sizeof(pyenv[0]); i++) {
		p = pyenv[i].path;
		if (!present(p))
			continue;
		if (!CHECK_EQ(py_build__inspect(&b, p, NULL, NULL, err, sizeof(err)), 0)) {
			fprintf(stderr, "  %s: %s\n", p, err);
			continue;
		}
		CHECK(b.minor == pyenv[i].minor && b.micro == pyenv[i].micro, "%s: 3.%d.%d", p,
		      b.minor, b.micro);
		CHECK(b.layout.gc_off == pyenv[i].gc_off, "%s: gc_off %d", p, b.layout.gc_off);
		CHECK(b.probe == GC_PROBE_UPROBE && b.nr_points >= 1, "%s: probe %d, %d points", p,
		      b.probe, b.nr_points);
		check_offsets(&b, p);
		if (pyenv[i].minor == 6)
			CHECK_EQ(b.layout.anchor_vaddr, fx_nm(p, "generation_stats"));
		else
			CHECK_EQ(b.layout.anchor_vaddr, fx_nm(p, "_PyRuntime"));
		if (pyenv[i].minor == 8) {
			CHECK_EQ(b.nr_points, 2);
			check_point(&b, p, "collect.constprop.0", 0);
			check_point(&b, p, "collect.constprop.1", 0);
		}
		if (pyenv[i].minor >= 10) {
			CHECK_EQ(b.nr_points, 1);
			check_point(&b, p, "gc_collect_main",
				    GC_PROBE_TSTATE_RDI | GC_PROBE_GEN_ESI |
				    (pyenv[i].minor >= 13 ? GC_PROBE_REASON_RDX : 0));
		}
		if (pyenv[i].minor == 13) {
			/* Py_Version is found before _Py_DebugOffsets. */
			CHECK_STR(b.version_source, "Py_Version");
			CHECK_STR(b.version, "3.13.0");
			CHECK_EQ(b.layout.stats_off, 128);
			CHECK_EQ(b.layout.main_interp_off, 640);
		}
	}
	p = "/root/.pyenv/versions/2.7.18/lib/libpython2.7.so.1.0";
	if (present(p)) {
		CHECK_EQ(py_build__inspect(&b, p, NULL, NULL, err, sizeof(err)), -ENOTSUP);
		CHECK(strstr(err, p), "err: %s", err);
	}
}

int main(void)
{
	size_t i;
	bool ok = true;

	if (!fx_init())
		return 1;
	for (i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++)
		ok &= CHECK(build_fake(&fakes[i]), "building fixture %s", fakes[i].name);
	if (ok) {
		test_311();
		test_38_37();
		test_39();
		test_36();
		test_313();
		test_314();
		test_not_python();
	}
	test_real();
	fx_cleanup();
	return check_done();
}
