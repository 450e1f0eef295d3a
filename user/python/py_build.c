// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "elf/debuginfo.h"
#include "elf/disasm.h"
#include "elf/elf_file.h"
#include "python/layout.h"
#include "python/py_build.h"
#include "elf/usdt_arg.h"

const char *py_build__probe_name(enum gc_probe_kind kind)
{
	return kind == GC_PROBE_USDT ? "usdt" : kind == GC_PROBE_UPROBE ? "uprobe" : "none";
}

static void set_version(struct py_build *b, unsigned int hex, const char *source)
{
	b->version_hex = hex;
	b->major = hex >> 24;
	b->minor = (hex >> 16) & 0xff;
	b->micro = (hex >> 8) & 0xff;
	b->version_source = source;
	snprintf(b->version, sizeof(b->version), "%d.%d.%d", b->major, b->minor, b->micro);
}

/* "3.9.18", "3.10.0rc1", "3.8.18+": version literals as PY_VERSION spells them. */
static bool parse_version_literal(const char *s, int *major, int *minor, int *micro)
{
	int n = 0;

	/* Each part becomes one byte of the PY_VERSION_HEX-like number. */
	if (sscanf(s, "%d.%d.%d%n", major, minor, micro, &n) != 3 || *major != 3 ||
	    *minor < 0 || *minor > 255 || *micro < 0 || *micro > 255)
		return false;
	s += n;
	while (*s && (isalnum((unsigned char)*s) || *s == '+'))
		s++;
	return *s == 0 && n > 0;
}

struct literal_ctx {
	struct elf_file *ef;
	int minor;		/* -1: any */
};

static bool version_literal_match(const char *s, void *vctx)
{
	struct literal_ctx *c = vctx;
	const char *tail = strrchr(s, '/');
	int major, minor, micro;

	/* The linker merges "3.9.18" into the tail of ".../versions/3.9.18". */
	if (c->minor >= 0 && tail && parse_version_literal(tail + 1, &major, &minor, &micro) &&
	    minor == c->minor)
		return true;
	if (!parse_version_literal(s, &major, &minor, &micro))
		return false;
	return c->minor < 0 || minor == c->minor;
}

/*
 * Version from the file: Py_Version (3.11+), _Py_DebugOffsets (3.13+), the
 * SONAME's minor plus the PY_VERSION literal for the micro, in that order.
 */
static int detect_version(struct py_build *b, struct elf_file *ef)
{
	const char *soname = elf_file__soname(ef);
	struct literal_ctx lc = { ef, -1 };
	char lit[64];
	GElf_Sym sym;
	__u64 hex = 0;
	int major, minor, micro;

	if (!elf_file__find_symbol(ef, "Py_Version", &sym) &&
	    !elf_file__read_vaddr(ef, sym.st_value, &hex, sizeof(hex)) && (hex >> 24) == 3) {
		set_version(b, hex, "Py_Version");
		return 0;
	}
	if (soname && sscanf(soname, "libpython3.%d", &minor) == 1 && minor >= 0 && minor <= 255) {
		lc.minor = minor;
		if (!elf_file__find_string(ef, version_literal_match, &lc, lit, sizeof(lit)) &&
		    (parse_version_literal(lit, &major, &minor, &micro) ||
		     (strrchr(lit, '/') &&
		      parse_version_literal(strrchr(lit, '/') + 1, &major, &minor, &micro))))
			set_version(b, 3u << 24 | minor << 16 | micro << 8, "SONAME + PY_VERSION");
		else
			set_version(b, 3u << 24 | minor << 16, "SONAME");
		return 0;
	}
	/* A static interpreter before 3.11: the PY_VERSION literal alone. */
	if (!elf_file__find_string(ef, version_literal_match, &lc, lit, sizeof(lit)) &&
	    parse_version_literal(lit, &major, &minor, &micro)) {
		set_version(b, 3u << 24 | minor << 16 | micro << 8, "PY_VERSION string");
		return 0;
	}
	return -ENOENT;
}

struct clone_ctx {
	struct py_build *b;
	const char *base;
	size_t base_len;
};

/* `base` itself and its GCC clones base.constprop.N / base.isra.N; not .cold/.part. */
static int collector_sym_cb(const char *name, const GElf_Sym *sym, void *vctx)
{
	struct clone_ctx *c = vctx;
	struct py_build *b = c->b;
	struct py_probe_point *pt;
	bool clone;
	int i;

	if (GELF_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF ||
	    strncmp(name, c->base, c->base_len))
		return 0;
	if (name[c->base_len] == 0) {
		clone = false;
	} else if (!strncmp(name + c->base_len, ".lto_priv.", 10)) {
		/* LTO's rename of a static (Debian's builds): the function itself. */
		clone = false;
		if (strrchr(name, '.') != strchr(name + c->base_len + 1, '.'))
			return 0;
	} else if (!strncmp(name + c->base_len, ".constprop.", 11) ||
		   !strncmp(name + c->base_len, ".isra.", 6)) {
		clone = true;
		/* base.constprop.0.cold, base.isra.0.part.1: fragments, not entries. */
		if (strrchr(name, '.') != strchr(name + c->base_len + 1, '.'))
			return 0;
	} else {
		return 0;
	}
	for (i = 0; i < b->nr_points; i++)
		if (b->points[i].vaddr == sym->st_value)
			return 0;	/* the same entry from .dynsym or an alias */
	if (b->nr_points == PY_BUILD_MAX_POINTS)
		return -E2BIG;
	pt = &b->points[b->nr_points++];
	snprintf(pt->name, sizeof(pt->name), "%s", name);
	pt->vaddr = sym->st_value;
	/* Clones get other argument registers (IPA): only the original's are known. */
	pt->flags = clone ? 0 : py_version__probe_flags(b->ver);
	return 0;
}

static int plan_usdt(struct py_build *b, struct elf_file *ef)
{
	struct usdt_note notes[64];
	int n = elf_file__usdt_notes(ef, notes, 64), i;
	int have_start = -1, have_done = -1;

	for (i = 0; i < n; i++) {
		if (strcmp(notes[i].provider, "python"))
			continue;
		if (!strcmp(notes[i].name, "gc__start"))
			have_start = i;
		else if (!strcmp(notes[i].name, "gc__done"))
			have_done = i;
	}
	if (have_start < 0 || have_done < 0)
		return -ENOENT;
	b->probe = GC_PROBE_USDT;
	b->nr_points = 2;
	snprintf(b->points[0].name, sizeof(b->points[0].name), "python:gc__start");
	b->points[0].vaddr = notes[have_start].vaddr;
	b->points[0].semaphore = notes[have_start].semaphore;
	/* Fetched only when the statistics cannot be read: none is no error. */
	if (usdt_arg__parse(notes[have_start].args, 0, &b->points[0].gen_arg))
		b->points[0].gen_arg.reg_off = -1;
	snprintf(b->points[1].name, sizeof(b->points[1].name), "python:gc__done");
	b->points[1].vaddr = notes[have_done].vaddr;
	b->points[1].semaphore = notes[have_done].semaphore;
	b->points[1].gen_arg.reg_off = -1;
	if (b->layout.stats_kind == GC_STATS_RING && b->layout.rec_ts_start >= 0)
		/* trace/tracer_attach.c's one_probe(): the record already holds the collection. */
		snprintf(b->why, sizeof(b->why), "USDT python:gc__done in .note.stapsdt, alone: "
			 "each collection's own record from the statistics ring");
	else
		snprintf(b->why, sizeof(b->why), "USDT python:gc__start/gc__done in .note.stapsdt");
	return 0;
}

/*
 * The file whose .symtab names the static functions: the binary itself, else
 * its separate debug information (opened once, on first need), else NULL.
 */
static struct elf_file *symbol_file(struct py_build *b, struct elf_file *ef,
				    struct debuginfo *di, bool *tried, const char *root)
{
	if (elf_file__has_symtab(ef))
		return ef;
	if (!*tried) {
		*tried = true;
		if (!debuginfo__open(di, ef, root, b->display_path)) {
			snprintf(b->debug_file, sizeof(b->debug_file), "%s", di->path);
			b->symbols_from = di->kind == DEBUGINFO_DEBUGDATA ? ".gnu_debugdata" :
					  b->debug_file;
		}
	}
	return di->kind != DEBUGINFO_NONE ? &di->ef : NULL;
}

/*
 * No symbols at all: PyGC_Collect is exported and calls the collector, so
 * disassembling it finds the collector's entry where the version's row says
 * how (3.9+; before, the collector has clones PyGC_Collect cannot reveal).
 */
static int plan_disasm(struct py_build *b, struct elf_file *ef, char *err, size_t err_len)
{
	struct disasm_collector dc;
	struct py_probe_point *pt;
	char why[160];
	int ret;

	if (b->ver->disasm_gen < 0) {
		snprintf(err, err_len, "%s (Python %s): no USDT python:gc__start and no %s in "
			 ".symtab (stripped, no debug file); Python %s's collector %s that "
			 "cannot be found without symbols: install its debug symbols or use a "
			 "build with USDT", b->display_path, b->version, b->ver->collector,
			 b->ver->name, b->ver->clones == PY_CLONES_ONLY ? "exists only as clones" :
			 "has clones");
		return -ENOTSUP;
	}
	ret = disasm__find_collector(ef, b->ver, &dc, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "%s (Python %s): no USDT python:gc__start, no %s in "
			 ".symtab (stripped, no debug file), and disassembling PyGC_Collect did "
			 "not find it (%s); install its debug symbols or use a build with USDT",
			 b->display_path, b->version, b->ver->collector, why);
		return -ENOTSUP;
	}
	b->nr_points = 1;
	pt = &b->points[0];
	snprintf(pt->name, sizeof(pt->name), "%s@%#lx", b->ver->collector,
		 (unsigned long)dc.vaddr);
	pt->vaddr = dc.vaddr;
	pt->flags = py_version__probe_flags(b->ver);
	b->probe = GC_PROBE_UPROBE;
	b->symbols_from = "disassembly";
	snprintf(b->why, sizeof(b->why), "no USDT, stripped; collector at %#lx found by "
		 "disassembling PyGC_Collect (called at %#lx%s; %d callers%s)",
		 (unsigned long)dc.vaddr, (unsigned long)dc.call_site,
		 dc.unwrapped ? " via the callback wrapper" : "", dc.callers,
		 dc.eh_frame ? ", an .eh_frame function start" : "");
	return 0;
}

static int plan_uprobe(struct py_build *b, struct elf_file *ef, struct elf_file *syms,
		       char *err, size_t err_len)
{
	struct clone_ctx c = { b, b->ver->collector, strlen(b->ver->collector) };
	int ret;

	b->nr_points = 0;
	if (!syms)
		return plan_disasm(b, ef, err, err_len);
	ret = elf_file__for_each_symbol(syms, SHT_SYMTAB, collector_sym_cb, &c);
	if (ret) {
		snprintf(err, err_len, "%s: too many collector clones", b->display_path);
		return ret;
	}
	if (!b->nr_points) {
		snprintf(err, err_len, "%s (Python %s): no USDT python:gc__start and no %s in "
			 "the .symtab of %s; install its debug symbols or use a build with USDT",
			 b->display_path, b->version, c.base,
			 syms == ef ? b->display_path : b->debug_file);
		return -ENOTSUP;
	}
	b->probe = GC_PROBE_UPROBE;
	if (syms == ef)
		b->symbols_from = ".symtab";
	snprintf(b->why, sizeof(b->why), "no USDT; %s%s from %s%s (%d entr%s)", c.base,
		 b->nr_points > 1 ? " and clones" : "", b->symbols_from,
		 strcmp(b->symbols_from, ".gnu_debugdata") ? "" : " (MiniDebugInfo)",
		 b->nr_points, b->nr_points > 1 ? "ies" : "y");
	return 0;
}

static int find_anchor(struct py_build *b, struct elf_file *ef, struct elf_file *syms,
		       __u64 runtime_vaddr, char *err, size_t err_len)
{
	const char *name = b->ver->anchor;
	GElf_Sym sym;

	if (runtime_vaddr) {
		b->layout.anchor_vaddr = runtime_vaddr;
		return 0;
	}
	/* A file-static anchor (3.6): only a .symtab, maybe a debug file's, has it. */
	if (elf_file__find_symbol(ef, name, &sym) &&
	    (!syms || syms == ef || elf_file__find_symbol(syms, name, &sym))) {
		snprintf(err, err_len, "%s: no symbol %s to locate the GC state%s", b->display_path,
			 name, b->ver->anchor_local ? " (a static: it needs .symtab or a debug file)"
			 : "");
		return -ENOTSUP;
	}
	b->layout.anchor_vaddr = sym.st_value;
	return 0;
}

int py_build__inspect(struct py_build *b, const char *path, const char *display,
		      const struct py_build_opts *opts, char *err, size_t err_len)
{
	struct debug_offsets dbg;
	struct debuginfo di = { .kind = DEBUGINFO_NONE };
	struct elf_file ef, *syms = NULL;
	bool tried_debuginfo = false;
	char root[64] = "/";
	struct stat st;
	GElf_Sym sym;
	pid_t pid;
	__u64 runtime_vaddr = 0;
	char why[256];
	bool have_dbg;
	int ret;

	memset(b, 0, sizeof(*b));
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(b->display_path, sizeof(b->display_path), "%s", display ? display : path);
	if (opts && opts->root)
		snprintf(root, sizeof(root), "%s", opts->root);
	else if (sscanf(path, "/proc/%d/", &pid) == 1)
		snprintf(root, sizeof(root), "/proc/%d/root", pid);
	/* Regular files only, never blocking: see rootfs.h. */
	ret = elf_file__open(&ef, path);
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", b->display_path,
			 ret == -ENOEXEC ? "not an ELF file" :
			 ret == -EPERM ? "not a regular file of a sane size" : strerror(-ret));
		return ret;
	}
	if (fstat(ef.fd, &st)) {
		ret = -errno;
		snprintf(err, err_len, "cannot stat %s: %s", b->display_path, strerror(-ret));
		goto out;
	}
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	if (elf_file__find_symbol(&ef, "PyGC_Collect", &sym)) {
		snprintf(err, err_len, "%s is not a CPython interpreter (no PyGC_Collect)",
			 b->display_path);
		ret = -ENOEXEC;
		goto out;
	}
	ret = debug_offsets__read(&ef, &dbg, &runtime_vaddr);
	have_dbg = ret == 0;
	if (ret && ret != -ENOENT) {
		snprintf(err, err_len, "%s: _Py_DebugOffsets version %#llx not supported",
			 b->display_path, (unsigned long long)dbg.version);
		ret = -ENOTSUP;
		goto out;
	}
	if (detect_version(b, &ef)) {
		if (!have_dbg) {
			snprintf(err, err_len, "%s: cannot tell the Python version from the file",
				 b->display_path);
			ret = -ENOTSUP;
			goto out;
		}
		set_version(b, dbg.version, "_Py_DebugOffsets");
	}
	b->free_threaded = have_dbg && dbg.free_threaded;
	b->debug = !elf_file__find_symbol(&ef, "_Py_NegativeRefcount", &sym);
	ret = py_versions__lookup(&b->ver, b->major, b->minor, b->micro, b->debug, why,
				  sizeof(why));
	if (ret) {
		snprintf(err, err_len, "%s: %s", b->display_path, why);
		goto out;
	}
	if (b->ver->anchor_local && !runtime_vaddr)
		syms = symbol_file(b, &ef, &di, &tried_debuginfo, root);
	ret = find_anchor(b, &ef, syms, runtime_vaddr, err, err_len);
	if (ret)
		goto out;
	ret = layout__fill(&b->layout, b->ver, have_dbg ? &dbg : NULL, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "%s: %s", b->display_path, why);
		goto out;
	}
	if ((opts && opts->force_uprobe) || plan_usdt(b, &ef)) {
		syms = symbol_file(b, &ef, &di, &tried_debuginfo, root);
		ret = plan_uprobe(b, &ef, syms, err, err_len);
	}
	for (int i = 0; !ret && i < b->nr_points; i++) {
		if (elf_file__vaddr_to_offset(&ef, b->points[i].vaddr, &b->points[i].offset)) {
			snprintf(err, err_len, "%s: %s at %#lx is outside every loadable segment",
				 b->display_path, b->points[i].name, (unsigned long)b->points[i].vaddr);
			ret = -ENOTSUP;
		}
		if (!ret && b->points[i].semaphore &&
		    elf_file__vaddr_to_offset(&ef, b->points[i].semaphore,
					      &b->points[i].ref_ctr_offset)) {
			snprintf(err, err_len, "%s: the semaphore of %s at %#lx is outside every "
				 "loadable segment", b->display_path, b->points[i].name,
				 (unsigned long)b->points[i].semaphore);
			ret = -ENOTSUP;
		}
	}
out:
	debuginfo__close(&di);
	elf_file__close(&ef);
	return ret;
}
