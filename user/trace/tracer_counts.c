// SPDX-License-Identifier: GPL-2.0
/*
 * What the BPF side counted, as the loader reads it: its per-CPU counters
 * (enum gc_counter) and its per-process, per-generation pause histograms
 * (the hists map, one entry per interpreter, merged per process here).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gcbpf.skel.h"
#include "trace/hdr.h"
#include "trace/tracer.h"

void tracer__counters(struct tracer *t, __u64 out[GC_CNT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	__u32 k;
	int c;

	memset(out, 0, GC_CNT_MAX * sizeof(out[0]));
	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	for (k = 0; k < GC_CNT_MAX; k++) {
		if (bpf_map__lookup_elem(t->skel->maps.counters, &k, sizeof(k), vals,
					 ncpu * sizeof(*vals), 0))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
}

static int hist_key_cmp(const void *a, const void *b)
{
	const struct gc_hist_key *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen < y->gen ? -1 : 1;
	return x->iid < y->iid ? -1 : x->iid > y->iid;
}

/* Every key of the hists map, sorted: a process's interpreters side by side. */
static int hist_keys(int fd, struct gc_hist_key **out)
{
	struct gc_hist_key key, next, *prev = NULL, *keys = NULL, *k;
	size_t n = 0, cap = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			k = realloc(keys, cap * sizeof(*keys));
			if (!k) {
				free(keys);
				return -ENOMEM;
			}
			keys = k;
		}
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	if (n)
		qsort(keys, n, sizeof(*keys), hist_key_cmp);
	*out = keys;
	return n;
}

/* One call per process and generation, its interpreters' entries merged. */
int tracer__for_each_hist(struct tracer *t, tracer_hist_fn cb, void *ctx)
{
	int fd = bpf_map__fd(t->skel->maps.hists), n = 0, nk, i;
	struct gc_hist *h = malloc(sizeof(*h)), *acc = malloc(sizeof(*acc));
	struct gc_hist_key *keys = NULL;
	bool have = false;

	nk = h && acc ? hist_keys(fd, &keys) : -ENOMEM;
	for (i = 0; i < nk; i++) {
		if (!bpf_map_lookup_elem(fd, &keys[i], h)) {	/* else deleted meanwhile */
			if (!have) {
				memcpy(acc, h, sizeof(*h));
			} else {
				hdr__merge(acc, h);
				if (!acc->named && h->named) {	/* the lowest id's gauges and name */
					memcpy(acc->comm, h->comm, sizeof(acc->comm));
					acc->heap_size = h->heap_size;
					acc->long_lived_total = h->long_lived_total;
					acc->rss = h->rss;
					acc->named = 1;
				}
			}
			have = true;
		}
		if (have && (i + 1 == nk || keys[i + 1].pid != keys[i].pid ||
			     keys[i + 1].gen != keys[i].gen)) {
			struct gc_hist_key k = { .pid = keys[i].pid, .gen = keys[i].gen, .iid = -1 };

			cb(ctx, &k, acc);
			n++;
			have = false;
		}
	}
	free(keys);
	free(h);
	free(acc);
	return nk < 0 ? nk : n;
}

void tracer__forget_pid(struct tracer *t, __u32 pid)
{
	int fd = bpf_map__fd(t->skel->maps.hists), nk, i;
	struct gc_hist_key *keys = NULL;

	nk = hist_keys(fd, &keys);
	for (i = 0; i < nk; i++)
		if (keys[i].pid == pid)
			bpf_map_delete_elem(fd, &keys[i]);
	free(keys);
}
