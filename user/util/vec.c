// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include "util/vec.h"

int vec__reserve(void **items, int *cap, int want, size_t size)
{
	size_t n = *cap ? (size_t)*cap : 16;
	void *p;

	if (want <= *cap)
		return 0;
	while (n < (size_t)want)
		n *= 2;
	if (n > INT_MAX || n > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*items, n * size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = n;
	return 0;
}
