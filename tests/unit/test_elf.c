// SPDX-License-Identifier: GPL-2.0
/* elf_file: on shared objects built here with cc, read back with binutils. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fixture.h"
#include "elf/elf_file.h"

static const char full_c[] =
	"#include <stdio.h>\n"
	"const unsigned long Py_Version = 0x030b07f0;\n"
	"char _PyRuntime[256] = { 1, 2, 3 };\n"
	"static char bss_blob[65536] __attribute__((used));\n"
	"const char *const marker = \"hello-gcbpf-marker\";\n"
	"static volatile int counter;\n"
	"__attribute__((noinline)) static int collect(int gen)\n"
	"{ counter += gen; return counter + bss_blob[gen]; }\n"
	"__attribute__((noinline)) static int gc_collect_main(int gen)\n"
	"{ return collect(gen) + 1; }\n"
	"int PyGC_Collect(void) { puts(marker); return gc_collect_main(2); }\n";

/* Clones with dots, probe sites, a semaphore and three USDT notes. */
static const char full_s[] =
	".text\n"
	".type collect.constprop.0,@function\n"
	"collect.constprop.0: ret\n"
	".size collect.constprop.0, 1\n"
	".type collect.constprop.1,@function\n"
	"collect.constprop.1: ret\n"
	".size collect.constprop.1, 1\n"
	".type collect.cold,@function\n"
	"collect.cold: ret\n"
	".size collect.cold, 1\n"
	".type collect.part.0,@function\n"
	"collect.part.0: ret\n"
	".size collect.part.0, 1\n"
	".globl gc_probe_sites\n"
	".type gc_probe_sites,@function\n"
	"gc_probe_sites:\n"
	"probe_start: nop\n"
	"probe_done: nop\n"
	"probe_other: nop\n"
	"ret\n"
	".size gc_probe_sites, .-gc_probe_sites\n"
	".pushsection .probes,\"aw\",@progbits\n"
	".balign 2\n"
	"python_gc__start_semaphore: .2byte 0\n"
	".popsection\n"
	FX_USDT_NOTE("python", "gc__start", "probe_start", "python_gc__start_semaphore", "0")
	FX_USDT_NOTE("python", "gc__done", "probe_done", "0", "0")
	FX_USDT_NOTE("other", "prelinked", "probe_other", "0", "0x1000")
	FX_USDT_BASE
	".section .note.GNU-stack,\"\",@progbits\n";

static const char plain_c[] = "int plain_function(int x) { return x + 1; }\n";

/* .gnu_debuglink sections no linker writes: NOBITS (a size, no bytes), no NUL. */
static const char nobits_s[] =
	".section .gnu_debuglink,\"a\",@nobits\n.skip 64\n"
	".section .note.GNU-stack,\"\",@progbits\n";
static const char unterminated_s[] =
	".section .gnu_debuglink,\"\",@progbits\n.ascii \"abcdefgh\"\n"
	".section .note.GNU-stack,\"\",@progbits\n";

static bool build_fixtures(void)
{
	return fx_write("full.c", full_c) && fx_write("full.s", full_s) &&
	       fx_write("plain.c", plain_c) && fx_write("not-elf.txt", "#!/bin/sh\necho hi\n") &&
	       fx_write("empty", "") &&
	       fx_run("cc -shared -fPIC -O0 -g0 -o full.so full.c full.s "
		      "-Wl,-soname,libpython3.11.so.1.0 -Wl,--build-id=sha1 "
		      "-Wl,--enable-new-dtags -Wl,-rpath,/opt/py/lib") &&
	       fx_run("objcopy --only-keep-debug full.so full.debug") &&
	       fx_run("objcopy --add-gnu-debuglink=full.debug full.so") &&
	       fx_run("strip --strip-all -o stripped.so full.so") &&
	       fx_run("cc -shared -fPIC -O0 -nostdlib -Wl,--build-id=none -o plain.so plain.c") &&
	       fx_write("nobits.s", nobits_s) && fx_write("unterminated.s", unterminated_s) &&
	       /* Objects, not linked: ld would drop .gnu_debuglink. */
	       fx_run("cc -c -o nobits.o nobits.s") &&
	       fx_run("cc -c -o unterminated.o unterminated.s") &&
	       fx_run("mkfifo fifo.so");
}

static void test_open_errors(void)
{
	struct elf_file ef;

	CHECK_EQ(elf_file__open(&ef, fx_path("does-not-exist.so")), -ENOENT);
	CHECK(ef.fd == -1 && ef.elf == NULL, "state after a failed open: fd %d", ef.fd);
	elf_file__close(&ef);	/* twice is harmless */
	CHECK_EQ(elf_file__open(&ef, fx_path("not-elf.txt")), -ENOEXEC);
	CHECK(ef.fd == -1 && ef.elf == NULL, "fd left open after -ENOEXEC: %d", ef.fd);
	CHECK_EQ(elf_file__open(&ef, fx_path("empty")), -ENOEXEC);
	CHECK_EQ(elf_file__open(&ef, fx_dir), -EPERM);	/* a directory */
}

struct count_ctx {
	int total;
	bool saw_collect, saw_pygc;
	int stop_after;
};

static int count_cb(const char *name, const GElf_Sym *sym, void *vctx)
{
	struct count_ctx *c = vctx;

	c->total++;
	if (!strcmp(name, "collect"))
		c->saw_collect = true;
	if (!strcmp(name, "PyGC_Collect"))
		c->saw_pygc = true;
	return c->stop_after && c->total == c->stop_after ? 7 : 0;
}

static void test_symbols(struct elf_file *ef, const char *file)
{
	static const char *const names[] = {
		"collect", "collect.constprop.0", "collect.constprop.1", "collect.cold",
		"collect.part.0", "gc_collect_main", "PyGC_Collect", "Py_Version",
		"_PyRuntime", "probe_start", "python_gc__start_semaphore",
	};
	struct count_ctx c = { 0 };
	GElf_Sym sym;
	size_t i;

	CHECK(elf_file__has_symtab(ef), "%s has a .symtab", file);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t want = fx_nm(file, names[i]);

		CHECK(want, "nm finds %s", names[i]);
		if (CHECK(!elf_file__find_symbol(ef, names[i], &sym), "find %s", names[i]))
			CHECK(sym.st_value == want, "%s at %#llx, nm says %#llx", names[i],
			      (unsigned long long)sym.st_value, (unsigned long long)want);
	}
	memset(&sym, 0, sizeof(sym));
	CHECK_EQ(elf_file__find_symbol(ef, "collect", &sym), 0);
	CHECK_EQ(GELF_ST_TYPE(sym.st_info), STT_FUNC);
	CHECK_EQ(GELF_ST_BIND(sym.st_info), STB_LOCAL);
	CHECK_EQ(elf_file__find_symbol(ef, "collect.constprop.1", &sym), 0);
	CHECK_EQ(GELF_ST_TYPE(sym.st_info), STT_FUNC);
	CHECK_EQ(elf_file__find_symbol(ef, "Py_Version", &sym), 0);
	CHECK_EQ(GELF_ST_TYPE(sym.st_info), STT_OBJECT);
	CHECK_EQ(sym.st_size, 8);
	CHECK_EQ(elf_file__find_symbol(ef, "_PyRuntime", &sym), 0);
	CHECK_EQ(GELF_ST_TYPE(sym.st_info), STT_OBJECT);
	CHECK_EQ(sym.st_size, 256);
	CHECK_EQ(elf_file__find_symbol(ef, "no_such_symbol", &sym), -ENOENT);
	CHECK_EQ(elf_file__find_symbol(ef, "collect.constprop", &sym), -ENOENT);
	/* puts is in .dynsym, but undefined: not found. */
	CHECK_EQ(elf_file__find_symbol(ef, "puts", &sym), -ENOENT);

	/* .dynsym has the exported functions, not the static ones. */
	CHECK_EQ(elf_file__for_each_symbol(ef, SHT_DYNSYM, count_cb, &c), 0);
	CHECK(c.saw_pygc && !c.saw_collect, "dynsym: PyGC_Collect %d, collect %d", c.saw_pygc,
	      c.saw_collect);
	memset(&c, 0, sizeof(c));
	CHECK_EQ(elf_file__for_each_symbol(ef, SHT_SYMTAB, count_cb, &c), 0);
	CHECK(c.saw_pygc && c.saw_collect, "symtab: PyGC_Collect %d, collect %d", c.saw_pygc,
	      c.saw_collect);
	CHECK(c.total > 10, "symtab has %d named symbols", c.total);
	/* A non-zero return stops the walk and is passed back. */
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	CHECK_EQ(elf_file__for_each_symbol(ef, SHT_SYMTAB, count_cb, &c), 7);
	CHECK_EQ(c.total, 3);
}

static int needed_cb(const char *name, void *ctx)
{
	if (!strcmp(name, "libc.so.6"))
		*(bool *)ctx = true;
	return 0;
}

static void test_dynamic(struct elf_file *ef)
{
	bool libc = false;

	CHECK_STR(elf_file__soname(ef), "libpython3.11.so.1.0");
	CHECK_STR(elf_file__runpath(ef), "/opt/py/lib");
	CHECK_EQ(elf_file__for_each_needed(ef, needed_cb, &libc), 0);
	CHECK(libc, "DT_NEEDED libc.so.6");
}

static void test_usdt(struct elf_file *ef, const char *file)
{
	struct usdt_note notes[8];
	uint64_t base_addr, base_off;
	int n;

	memset(notes, 0, sizeof(notes));
	n = elf_file__usdt_notes(ef, notes, 8);
	if (!CHECK_EQ(n, 3))
		return;
	CHECK_STR(notes[0].provider, "python");
	CHECK_STR(notes[0].name, "gc__start");
	CHECK_STR(notes[0].args, "-4@%edi");
	CHECK_EQ(notes[0].vaddr, fx_nm(file, "probe_start"));
	CHECK_EQ(notes[0].semaphore, fx_nm(file, "python_gc__start_semaphore"));
	CHECK(notes[0].semaphore != 0, "gc__start has a semaphore");
	CHECK_STR(notes[1].provider, "python");
	CHECK_STR(notes[1].name, "gc__done");
	CHECK_EQ(notes[1].vaddr, fx_nm(file, "probe_done"));
	CHECK_EQ(notes[1].semaphore, 0);
	CHECK(notes[0].vaddr != notes[1].vaddr, "distinct probe sites");
	/* Recorded 0x1000 off, with a .stapsdt.base 0x1000 off: adjusted back. */
	CHECK_STR(notes[2].provider, "other");
	CHECK_STR(notes[2].name, "prelinked");
	CHECK_EQ(notes[2].vaddr, fx_nm(file, "probe_other"));
	CHECK(fx_section(file, ".stapsdt.base", &base_addr, &base_off), "readelf .stapsdt.base");

	/* max is honoured. */
	memset(notes, 0, sizeof(notes));
	CHECK_EQ(elf_file__usdt_notes(ef, notes, 1), 1);
	CHECK_STR(notes[0].name, "gc__start");
	CHECK_STR(notes[1].name, "");
}

/* vaddr -> file offset, compared with the containing section's sh_addr/sh_offset. */
static void check_offset(struct elf_file *ef, const char *file, const char *sym,
			 const char *section, bool expect_differ)
{
	uint64_t vaddr = fx_nm(file, sym), addr, off, got = 0;

	if (!CHECK(fx_section(file, section, &addr, &off), "readelf finds %s", section))
		return;
	CHECK(vaddr >= addr, "%s in %s", sym, section);
	if (CHECK_EQ(elf_file__vaddr_to_offset(ef, vaddr, &got), 0))
		CHECK(got == vaddr - addr + off, "%s: offset %#llx, readelf implies %#llx", sym,
		      (unsigned long long)got, (unsigned long long)(vaddr - addr + off));
	if (expect_differ)
		CHECK(got != vaddr, "%s: fixture has vaddr != offset (%#llx)", sym,
		      (unsigned long long)vaddr);
}

static void test_vaddr(struct elf_file *ef, const char *file)
{
	uint64_t bss = fx_nm(file, "bss_blob"), off = 0x1234;
	unsigned long version = 0;
	unsigned char rt[3] = { 0 };
	GElf_Shdr shdr;
	uint64_t addr, soff;

	check_offset(ef, file, "collect", ".text", false);
	check_offset(ef, file, "gc_collect_main", ".text", false);
	check_offset(ef, file, "Py_Version", ".rodata", false);
	check_offset(ef, file, "_PyRuntime", ".data", true);
	/* .bss has no file bytes. */
	CHECK(bss != 0, "nm finds bss_blob");
	CHECK_EQ(elf_file__vaddr_to_offset(ef, bss + 32768, &off), -ENOENT);
	CHECK_EQ(off, 0x1234);
	CHECK_EQ(elf_file__vaddr_to_offset(ef, 0x7fff00000000ull, &off), -ENOENT);

	CHECK_EQ(elf_file__read_vaddr(ef, fx_nm(file, "Py_Version"), &version, sizeof(version)),
		 0);
	CHECK_EQ(version, 0x030b07f0);
	CHECK_EQ(elf_file__read_vaddr(ef, fx_nm(file, "_PyRuntime"), rt, sizeof(rt)), 0);
	CHECK(rt[0] == 1 && rt[1] == 2 && rt[2] == 3, "_PyRuntime bytes %d %d %d", rt[0], rt[1],
	      rt[2]);
	CHECK_EQ(elf_file__read_vaddr(ef, bss, rt, sizeof(rt)), -ENODATA);
	CHECK_EQ(elf_file__read_vaddr(ef, 0x7fff00000000ull, rt, sizeof(rt)), -ENOENT);

	memset(&shdr, 0, sizeof(shdr));
	CHECK(elf_file__section(ef, ".text", &shdr) != NULL, ".text");
	if (CHECK(fx_section(file, ".text", &addr, &soff), "readelf .text"))
		CHECK(shdr.sh_addr == addr && shdr.sh_offset == soff, ".text at %#llx/%#llx",
		      (unsigned long long)shdr.sh_addr, (unsigned long long)shdr.sh_offset);
	CHECK(elf_file__section(ef, ".no-such-section", &shdr) == NULL, "missing section");
}

static void test_notes(struct elf_file *ef, const char *file)
{
	char want[128], got[128], small[12];
	uint32_t crc = 0;

	memset(got, 0, sizeof(got));
	if (CHECK(fx_capture(want, sizeof(want),
			     "readelf -n '%s' | awk '/Build ID:/ { print $3; exit }'", file),
		  "readelf shows a build id")) {
		CHECK_EQ(elf_file__build_id(ef, got, sizeof(got)), 0);
		CHECK_STR(got, want);
		CHECK_EQ(strlen(got), 40);	/* sha1 */
	}
	/* Too small for the id: an error, and nothing written past the buffer. */
	memset(small, 'x', sizeof(small));
	CHECK(elf_file__build_id(ef, small, sizeof(small) - 2) != 0, "build id in 10 bytes");
	CHECK(small[10] == 'x' && small[11] == 'x', "wrote past the buffer");

	memset(got, 0, sizeof(got));
	CHECK_EQ(elf_file__debuglink(ef, got, sizeof(got), &crc), 0);
	CHECK_STR(got, "full.debug");
	CHECK(fx_capture(want, sizeof(want), "python3 -c 'import zlib; "
			 "print(zlib.crc32(open(\"full.debug\", \"rb\").read()))'"), "crc32");
	CHECK_EQ(crc, strtoul(want, NULL, 10));
	/* Too small for the name: an error, not a truncated name. */
	CHECK_EQ(elf_file__debuglink(ef, small, 5, &crc), -ENOENT);
}

static bool match_marker(const char *s, void *ctx)
{
	return !strncmp(s, (const char *)ctx, strlen(ctx));
}

static void test_strings(struct elf_file *ef)
{
	char buf[64] = "";

	CHECK_EQ(elf_file__find_string(ef, match_marker, "hello-gcbpf", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "hello-gcbpf-marker");
	CHECK_EQ(elf_file__find_string(ef, match_marker, "no-such-string", buf, sizeof(buf)),
		 -ENOENT);
}

static void test_stripped(void)
{
	const char *file = fx_path("stripped.so");
	struct usdt_note notes[4];
	struct elf_file ef;
	unsigned long version = 0;
	GElf_Sym sym;

	if (!CHECK_EQ(elf_file__open(&ef, file), 0))
		return;
	CHECK(!elf_file__has_symtab(&ef), "stripped file has no .symtab");
	CHECK_EQ(elf_file__find_symbol(&ef, "collect", &sym), -ENOENT);
	CHECK_EQ(elf_file__find_symbol(&ef, "collect.constprop.0", &sym), -ENOENT);
	/* .dynsym survives. */
	if (CHECK_EQ(elf_file__find_symbol(&ef, "Py_Version", &sym), 0)) {
		CHECK_EQ(elf_file__read_vaddr(&ef, sym.st_value, &version, sizeof(version)), 0);
		CHECK_EQ(version, 0x030b07f0);
	}
	CHECK_EQ(elf_file__find_symbol(&ef, "PyGC_Collect", &sym), 0);
	/* strip keeps SHT_NOTE sections, as in distro packages. */
	CHECK_EQ(elf_file__usdt_notes(&ef, notes, 4), 3);
	CHECK_STR(elf_file__soname(&ef), "libpython3.11.so.1.0");
	elf_file__close(&ef);
}

static void test_plain(void)
{
	struct usdt_note notes[4];
	struct elf_file ef;
	char buf[128];
	GElf_Sym sym;

	if (!CHECK_EQ(elf_file__open(&ef, fx_path("plain.so")), 0))
		return;
	CHECK(elf_file__soname(&ef) == NULL, "no SONAME");
	CHECK(elf_file__runpath(&ef) == NULL, "no RUNPATH");
	CHECK_EQ(elf_file__usdt_notes(&ef, notes, 4), 0);
	CHECK_EQ(elf_file__build_id(&ef, buf, sizeof(buf)), -ENOENT);
	CHECK_EQ(elf_file__debuglink(&ef, buf, sizeof(buf), NULL), -ENOENT);
	CHECK_EQ(elf_file__find_symbol(&ef, "plain_function", &sym), 0);
	CHECK_EQ(elf_file__find_symbol(&ef, "PyGC_Collect", &sym), -ENOENT);
	elf_file__close(&ef);
}

/* Found by libFuzzer: a NOBITS .gnu_debuglink gave strnlen a NULL. */
static void test_hostile_debuglink(void)
{
	static const char pad[] = "ab\0\0\x11\x22\x33\x44", slash[] = "a/b\0\1\2\3\4";
	struct elf_file ef;
	GElf_Shdr shdr;
	char buf[64];
	uint32_t crc = 0;

	if (CHECK_EQ(elf_file__open(&ef, fx_path("nobits.o")), 0)) {
		CHECK(elf_file__section(&ef, ".gnu_debuglink", &shdr) &&
		      shdr.sh_type == SHT_NOBITS, "the fixture has a NOBITS .gnu_debuglink");
		CHECK_EQ(elf_file__debuglink(&ef, buf, sizeof(buf), &crc), -ENOENT);
		elf_file__close(&ef);
	}
	/* No NUL inside the section: not read past it (ASan builds check). */
	if (CHECK_EQ(elf_file__open(&ef, fx_path("unterminated.o")), 0)) {
		CHECK(elf_file__section(&ef, ".gnu_debuglink", &shdr) && shdr.sh_size == 8,
		      "the fixture has an 8-byte .gnu_debuglink");
		CHECK_EQ(elf_file__debuglink(&ef, buf, sizeof(buf), &crc), -ENOENT);
		elf_file__close(&ef);
	}
	CHECK_EQ(elf_file__parse_debuglink(NULL, 16, buf, sizeof(buf), &crc), -ENOENT);
	CHECK_EQ(elf_file__parse_debuglink("", 1, buf, sizeof(buf), &crc), -ENOENT);
	CHECK_EQ(elf_file__parse_debuglink(pad, sizeof(pad) - 1, buf, sizeof(buf), &crc), 0);
	CHECK_STR(buf, "ab");
	CHECK_EQ(crc, 0x44332211);
	/* The CRC cut short, a path instead of a name. */
	CHECK_EQ(elf_file__parse_debuglink(pad, sizeof(pad) - 2, buf, sizeof(buf), &crc), -ENOENT);
	CHECK_EQ(elf_file__parse_debuglink(slash, sizeof(slash) - 1, buf, sizeof(buf), &crc),
		 -ENOENT);
}

/* Files that are not regular are not opened at all (a FIFO would block). */
static void test_not_regular(void)
{
	struct elf_file ef;

	CHECK_EQ(elf_file__open(&ef, fx_path("fifo.so")), -EPERM);
	CHECK_EQ(elf_file__open(&ef, "/dev/zero"), -EPERM);
	CHECK(ef.fd == -1 && ef.elf == NULL, "state after -EPERM: fd %d", ef.fd);
}

/* The same bytes from memory give the same answers. */
static void test_memory(const char *file)
{
	struct elf_file ef;
	char got[128];
	GElf_Sym sym;
	FILE *f = fopen(file, "rb");
	static char mem[1 << 20];
	size_t n;

	if (!CHECK(f != NULL, "open %s", file))
		return;
	n = fread(mem, 1, sizeof(mem), f);
	fclose(f);
	CHECK_EQ(elf_file__open_mem(&ef, mem, 16, "short"), -ENOEXEC);
	if (!CHECK_EQ(elf_file__open_mem(&ef, mem, n, "mem"), 0))
		return;
	CHECK(ef.fd == -1, "no fd");
	CHECK_EQ(elf_file__find_symbol(&ef, "Py_Version", &sym), 0);
	CHECK_EQ(sym.st_value, fx_nm(file, "Py_Version"));
	test_vaddr(&ef, file);
	CHECK_EQ(elf_file__debuglink(&ef, got, sizeof(got), NULL), 0);
	CHECK_STR(got, "full.debug");
	elf_file__close(&ef);
}

int main(void)
{
	const char *file;
	struct elf_file ef;

	if (!fx_init())
		return 1;
	if (!CHECK(build_fixtures(), "building the ELF fixtures in %s", fx_dir))
		goto out;
	test_open_errors();
	file = fx_path("full.so");
	if (CHECK_EQ(elf_file__open(&ef, file), 0)) {
		CHECK_EQ(ef.ehdr.e_type, ET_DYN);
		CHECK_STR(ef.path, file);
		test_symbols(&ef, file);
		test_dynamic(&ef);
		test_usdt(&ef, file);
		test_vaddr(&ef, file);
		test_notes(&ef, file);
		test_strings(&ef);
		elf_file__close(&ef);
		CHECK(ef.fd == -1 && ef.elf == NULL, "closed");
	}
	test_stripped();
	test_plain();
	test_hostile_debuglink();
	test_not_regular();
	test_memory(fx_path("full.so"));
out:
	fx_cleanup();
	return check_done();
}
