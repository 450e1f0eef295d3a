// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "target/identity.h"

/* The interpreter's own options that take the next word (python -h). */
static bool takes_arg(const char *opt)
{
	return !strcmp(opt, "-W") || !strcmp(opt, "-X") || !strcmp(opt, "--check-hash-based-pycs");
}

static const char *base(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* python, python3, python3.11, python3.11d, pypy3: an interpreter as argv[0]. */
static bool is_interpreter(const char *argv0)
{
	const char *b = base(argv0);

	return !strncmp(b, "python", 6) || !strncmp(b, "pypy", 4);
}

static void append(char *dst, size_t len, const char *word)
{
	size_t n = strlen(dst);

	if (n && n + 1 < len)
		dst[n++] = ' ';
	snprintf(dst + n, len - n, "%s", word);
}

/* The job from a script's basename: "app.py" -> "app". */
static void job_of_script(char *dst, size_t len, const char *script)
{
	const char *b = base(script);
	size_t n = strlen(b);

	if (n > 3 && !strcmp(b + n - 3, ".py"))
		n -= 3;
	snprintf(dst, len, "%.*s", (int)n, b);
}

/* The innermost systemd unit of a cgroup path ("…/app.service"), and a container id. */
static void from_cgroup(struct identity *id, const char *cgroup)
{
	const char *line = cgroup;

	while (line && *line) {
		const char *end = strchr(line, '\n'), *p;
		size_t n = end ? (size_t)(end - line) : strlen(line);
		int run = 0;

		/* cgroup v2 is "0::/path"; v1 lines name controllers first */
		for (p = line; p < line + n; p++) {
			run = isxdigit((unsigned char)*p) ? run + 1 : 0;
			if (run == 64 && (p + 1 == line + n || !isxdigit((unsigned char)p[1])) &&
			    !id->container[0])
				snprintf(id->container, sizeof(id->container), "%.12s", p - 63);
		}
		for (p = line; p < line + n; p++) {
			const char *comp = p, *stop;

			if (*p != '/')
				continue;
			comp = p + 1;
			stop = memchr(comp, '/', line + n - comp);
			if (!stop)
				stop = line + n;
			if (stop - comp > 8 && !memcmp(stop - 8, ".service", 8) &&
			    (size_t)(stop - comp) < sizeof(id->unit))
				snprintf(id->unit, sizeof(id->unit), "%.*s", (int)(stop - comp), comp);
		}
		line = end ? end + 1 : NULL;
	}
}

void identity__from(struct identity *id, const char *argv, size_t len, const char *cgroup,
		    const char *comm, bool hide_args)
{
	const char *words[64];
	char tail[256];
	int n = 0, i, first = 0;
	size_t off = 0;

	memset(id, 0, sizeof(*id));
	id->matched = true;
	while (off < len && n < 64) {
		size_t w = strnlen(argv + off, len - off);

		if (w == len - off) {
			/* the last word lacks its NUL: every use below needs one */
			snprintf(tail, sizeof(tail), "%.*s", (int)(w < sizeof(tail) ? w : sizeof(tail)),
				 argv + off);
			words[n++] = tail;
			break;
		}
		if (w)
			words[n++] = argv + off;
		off += w + 1;
	}
	/* A process that rewrote its argv into one string (setproctitle) is one word. */
	if (n && is_interpreter(words[0])) {
		for (i = 1; i < n; i++) {
			if (!strcmp(words[i], "-m") && i + 1 < n) {
				snprintf(id->job, sizeof(id->job), "%s", words[i + 1]);
				snprintf(id->short_cmd, sizeof(id->short_cmd), "-m %s", words[i + 1]);
				first = i + 2;
				break;
			}
			if (!strcmp(words[i], "-c")) {
				snprintf(id->job, sizeof(id->job), "-c");
				snprintf(id->short_cmd, sizeof(id->short_cmd), "-c ...");
				first = n;	/* the program text is not a name */
				break;
			}
			if (words[i][0] == '-') {
				i += takes_arg(words[i]);
				continue;
			}
			job_of_script(id->job, sizeof(id->job), words[i]);
			snprintf(id->short_cmd, sizeof(id->short_cmd), "%s", base(words[i]));
			first = i + 1;
			break;
		}
		if (!id->job[0])	/* the interactive interpreter */
			snprintf(id->job, sizeof(id->job), "%s", base(words[0]));
	} else if (n) {
		/* An embedding program (uwsgi, gunicorn's own binary...) */
		snprintf(id->job, sizeof(id->job), "%s", base(words[0]));
		snprintf(id->short_cmd, sizeof(id->short_cmd), "%s", base(words[0]));
		first = 1;
	}
	if (!id->short_cmd[0])
		snprintf(id->short_cmd, sizeof(id->short_cmd), "%s", id->job[0] ? id->job : comm);
	for (i = 0; i < n; i++) {
		/* Hidden: only the words up to the script or module. */
		if (hide_args && i >= first && first)
			break;
		append(id->cmdline, sizeof(id->cmdline), words[i]);
	}
	for (i = first; !hide_args && first && i < n; i++)
		append(id->short_cmd, sizeof(id->short_cmd), words[i]);
	if (!id->job[0])
		snprintf(id->job, sizeof(id->job), "%s", comm ? comm : "?");
	if (cgroup)
		from_cgroup(id, cgroup);
	snprintf(id->service, sizeof(id->service), "%s",
		 id->unit[0] ? id->unit : id->container[0] ? id->container : id->job);
}

/* A /proc file, read whole into buf (bounded); its length, or 0. */
static size_t read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	while ((size_t)total < len - 1 && (n = read(fd, buf + total, len - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

void identity__read(struct identity *id, pid_t pid, const char *comm, bool hide_args,
		    const char *match)
{
	char argv[4096], cgroup[4096];
	size_t n = read_proc(pid, "cmdline", argv, sizeof(argv));
	bool matched = true;

	if (!read_proc(pid, "cgroup", cgroup, sizeof(cgroup)))
		cgroup[0] = 0;
	if (match) {
		/* Matched against every argument, also those --hide-args hides. */
		identity__from(id, argv, n, cgroup, comm, false);
		matched = !fnmatch(match, id->cmdline, 0);
	}
	identity__from(id, argv, n, cgroup, comm, hide_args);
	id->matched = matched;
}
