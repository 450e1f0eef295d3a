// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: USDT argument specs ("-4@112(%rsp) 8@%rax") from .note.stapsdt. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elf/usdt_arg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The note reader hands over at most 127 bytes, NUL-terminated. */
	char spec[128];
	struct gc_usdt_arg arg;
	size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;

	memcpy(spec, data, n);
	spec[n] = 0;
	for (int i = 0; i < 6; i++)
		if (!usdt_arg__parse(spec, i, &arg) && (arg.size < -8 || arg.size > 8))
			abort();
	return 0;
}
