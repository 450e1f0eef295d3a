// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "python/gc_frozen.h"
#include "target/target.h"

/*
 * One read per node costs a system call per object (~1.5 us: 3 s for 2 M
 * frozen objects). The nodes sit in the allocator's pools, mostly in list
 * order, so the walk reads whole chunks into a direct-mapped cache and
 * takes most nodes from there; a node across a chunk's end, or in a chunk
 * that cannot be read whole, is read on its own.
 */
#define CHUNK_SHIFT 16
#define CHUNK (1ULL << CHUNK_SHIFT)
#define SLOTS 256	/* 16 MiB, for the walk only */

struct chunk_cache {
	__u64 tag[SLOTS];	/* chunk number + 1, 0: empty */
	unsigned char *data;	/* SLOTS * CHUNK */
};

static int read_node(pid_t pid, struct chunk_cache *c, __u64 addr, __u64 node[2])
{
	__u64 nr = addr >> CHUNK_SHIFT, off = addr & (CHUNK - 1);
	unsigned int slot = nr % SLOTS;
	unsigned char *d = c->data + (size_t)slot * CHUNK;

	if (off + 16 > CHUNK)
		return target__read_memory(pid, addr, node, 16);
	if (c->tag[slot] != nr + 1) {
		if (target__read_memory(pid, nr << CHUNK_SHIFT, d, CHUNK)) {
			c->tag[slot] = 0;
			return target__read_memory(pid, addr, node, 16);
		}
		c->tag[slot] = nr + 1;
	}
	memcpy(node, d + off, 16);
	return 0;
}

/*
 * PyGC_Head: _gc_next, then _gc_prev, their low bits flags. Each node's
 * back link must name the node before it, and the head's the last one.
 */
int gc_frozen__count(pid_t pid, __u64 head, __s64 max, __s64 *count)
{
	struct chunk_cache c;
	__u64 node[2], cur, prev = head, head_prev;
	__s64 n = 0;
	int ret = 0;

	if (target__read_memory(pid, head, node, sizeof(node)))
		return -EFAULT;
	head_prev = node[1] & ~7ULL;
	if ((node[0] & ~7ULL) == head) {	/* empty: no cache needed */
		if (head_prev != head)
			return -EAGAIN;
		*count = 0;
		return 0;
	}
	memset(c.tag, 0, sizeof(c.tag));
	c.data = malloc((size_t)SLOTS * CHUNK);
	if (!c.data)
		return -ENOMEM;
	for (cur = node[0] & ~7ULL; cur != head; cur = node[0] & ~7ULL) {
		if (n >= max) {
			ret = -E2BIG;
			break;
		}
		if (read_node(pid, &c, cur, node) || (node[1] & ~7ULL) != prev) {
			ret = -EAGAIN;
			break;
		}
		prev = cur;
		n++;
	}
	free(c.data);
	if (!ret && head_prev != prev)
		ret = -EAGAIN;
	if (!ret)
		*count = n;
	return ret;
}
