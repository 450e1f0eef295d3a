// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: text a target controls in /proc and in its files: a
 * /proc/PID/maps line (the path is any name the target chose), its environ
 * block (LD_LIBRARY_PATH), the #! line of a script. The first byte picks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "target/target.h"
#include "target/exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maps_line m;
	char *line, prog[256];
	const char *v;

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		/* fgets hands over one NUL-terminated line. */
		line = malloc(size);
		memcpy(line, data + 1, size - 1);
		line[size - 1] = 0;
		if (!target__parse_maps_line(line, &m) && m.path && m.path[0] != '/')
			abort();
		free(line);
		break;
	case 1:
		/* A copy of exactly the bytes: ASan sees any read past them. */
		line = malloc(size - 1 ? size - 1 : 1);
		memcpy(line, data + 1, size - 1);
		v = target__env_lookup(line, size - 1, "LD_LIBRARY_PATH");
		if (v && (v < line || v >= line + size - 1 || !memchr(v, 0, line + size - 1 - v)))
			abort();
		free(line);
		break;
	default:
		line = malloc(size - 1 ? size - 1 : 1);
		memcpy(line, data + 1, size - 1);
		target__parse_shebang(line, size - 1, prog, sizeof(prog));
		free(line);
		break;
	}
	return 0;
}
