/* SPDX-License-Identifier: GPL-2.0 */
/* The one growable array: VEC(T) v = {}; T *slot = vec_push(&v); vec_free(&v). */
#ifndef GCBPF_VEC_H
#define GCBPF_VEC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define VEC(T) struct { T *items; int nr, cap; }

/* Room for `want` elements of `size` bytes in *items (doubling); 0 or -ENOMEM. */
int vec__reserve(void **items, int *cap, int want, size_t size);

/* A new zeroed element at the end, or NULL when out of memory. */
#define vec_push(v)								\
	(vec__reserve((void **)&(v)->items, &(v)->cap, (v)->nr + 1, sizeof(*(v)->items)) \
		 ? NULL								\
		 : memset(&(v)->items[(v)->nr++], 0, sizeof(*(v)->items)))

#define vec_free(v)								\
	do {									\
		free((v)->items);						\
		(v)->items = NULL;						\
		(v)->nr = (v)->cap = 0;						\
	} while (0)

#endif
