// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "python/gc_config.h"
#include "python/gc_frozen.h"
#include "python/gc_state.h"
#include "util/log.h"
#include "target/target.h"
#include "trace/tracer.h"

#define GC_STATE_MAX 512	/* bytes: larger than any version's GC state */

void gc_config__init(struct gc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threshold[0] = c->threshold[1] = c->threshold[2] = -1;
	c->enabled = -1;
	c->frozen = -1;
	snprintf(c->why, sizeof(c->why), "not read yet");
	snprintf(c->frozen_why, sizeof(c->frozen_why), "not read yet");
}

bool gc_config__due(const struct gc_config *c, __u64 now)
{
	return now >= c->next_ns || (c->frozen_addr && now >= c->frozen_next_ns);
}

static int locate(struct gc_config *c, pid_t pid, const struct tracer *t)
{
	const struct py_build *b;
	const struct py_version *v;
	char link[128];
	__u64 start = 0, bias, sym = 0, state, gens;
	int i = gc_state__find_build(pid, (const struct py_build *const *)t->builds,
				     t->nr_builds < GCBPF_MAX_BINARIES ? t->nr_builds
								       : GCBPF_MAX_BINARIES,
				     &start, link, sizeof(link));

	if (i < 0) {
		snprintf(c->why, sizeof(c->why), "no traced interpreter mapped in /proc/%d/maps",
			 pid);
		return -ENOENT;
	}
	b = t->builds[i];
	v = b->ver;
	if (gc_state__bias(link, start, v->generations_sym, &bias, &sym)) {
		snprintf(c->why, sizeof(c->why), "no load address%s in %s",
			 v->generations_sym ? " or generations symbol" : "", b->display_path);
		return -ENOENT;
	}
	if (v->generations_sym) {
		/* 3.6: the generations are a static array of their own */
		c->thresholds_addr = bias + sym + v->threshold_off;
		c->stride = v->generation_size;
		snprintf(c->frozen_why, sizeof(c->frozen_why), "no gc.freeze() before 3.7");
		return 0;
	}
	if (gc_state__locate(pid, b, bias, &state)) {
		snprintf(c->why, sizeof(c->why), "main interpreter not readable yet");
		return -EAGAIN;
	}
	gens = state + v->generations_off;
	if (v->generation0_off >= 0) {
		/* the interpreter's own pointer to generations[0]: exact for every build */
		if (target__read_memory(pid, state + v->generation0_off, &gens, sizeof(gens)) ||
		    !gens) {
			snprintf(c->why, sizeof(c->why), "GC state not readable yet");
			return -EAGAIN;
		}
		if (gens < state || gens >= state + GC_STATE_MAX || gens % 4) {
			snprintf(c->why, sizeof(c->why), "generation0 points outside the GC state");
			return -EPROTO;
		}
	}
	p_debug("pid %d: GC state at 0x%llx, generations at +%llu (%s)", pid,
		(unsigned long long)state, (unsigned long long)(gens - state), b->display_path);
	c->thresholds_addr = gens + v->threshold_off;
	c->enabled_addr = v->enabled_off >= 0 ? state + v->enabled_off : 0;
	c->stride = v->generation_size;
	if (v->permanent_off >= 0)
		c->frozen_addr = state + v->permanent_off;
	return 0;
}

static int read_config(struct gc_config *c, pid_t pid)
{
	unsigned char buf[2 * 48 + 4];
	size_t len = 2 * c->stride + 4;
	int th[3], enabled = -1, i;

	if (len > sizeof(buf) || target__read_memory(pid, c->thresholds_addr, buf, len) ||
	    (c->enabled_addr && target__read_memory(pid, c->enabled_addr, &enabled,
						     sizeof(enabled))))
		return -EFAULT;
	for (i = 0; i < 3; i++)
		memcpy(&th[i], buf + i * c->stride, sizeof(th[i]));
	/* A flag that is no flag: this is not the GC state the row describes. */
	if (c->enabled_addr && enabled != 0 && enabled != 1) {
		snprintf(c->why, sizeof(c->why), "the GC state read holds no flag (enabled = %d)",
			 enabled);
		return -EPROTO;
	}
	memcpy(c->threshold, th, sizeof(th));
	c->enabled = enabled;
	c->known = true;
	return 0;
}

static void refresh_frozen(struct gc_config *c, pid_t pid, __u64 now)
{
	struct timespec a, b;
	__u64 took;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &a);
	ret = gc_frozen__count(pid, c->frozen_addr, FROZEN_MAX_NODES, &c->frozen);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (b.tv_sec - a.tv_sec) * 1000000000ULL + b.tv_nsec - a.tv_nsec;
	p_debug("pid %d: permanent generation: %lld objects (ret %d) in %llu us", pid,
		(long long)c->frozen, ret, (unsigned long long)took / 1000);
	if (!ret)
		c->frozen_ns = now;
	else if (ret == -E2BIG)
		snprintf(c->frozen_why, sizeof(c->frozen_why), "more than %lld objects frozen",
			 FROZEN_MAX_NODES);
	else if (ret == -ENOMEM)
		snprintf(c->frozen_why, sizeof(c->frozen_why), "out of memory");
	else if (c->frozen < 0)
		snprintf(c->frozen_why, sizeof(c->frozen_why), "%s",
			 ret == -EFAULT ? "its memory is not readable"
					: "the list changed while it was counted");
	c->frozen_next_ns = now + (took * FROZEN_COST_RATIO > FROZEN_REFRESH_NS
					   ? took * FROZEN_COST_RATIO : FROZEN_REFRESH_NS);
}

void gc_config__refresh(struct gc_config *c, pid_t pid, const struct tracer *t, __u64 now)
{
	int ret = 0;

	if (c->frozen_addr && now >= c->frozen_next_ns && now < c->next_ns) {
		refresh_frozen(c, pid, now);
		return;
	}
	if (!gc_config__due(c, now))
		return;
	c->tries++;
	if (!c->thresholds_addr)
		ret = locate(c, pid, t);
	if (ret == -EPROTO)
		c->thresholds_addr = c->frozen_addr = 0;
	if (!ret)
		ret = read_config(c, pid);
	if (ret == -EPROTO) {
		c->known = false;
		c->frozen_addr = 0;
		c->frozen = -1;
		c->next_ns = ULLONG_MAX;	/* for good: never a wrong number */
		return;
	}
	if (!ret)
		c->read_ns = now;
	else if (ret == -EFAULT && c->thresholds_addr && !c->known)
		snprintf(c->why, sizeof(c->why), "its memory is not readable");
	if (c->frozen_addr && now >= c->frozen_next_ns)
		refresh_frozen(c, pid, now);
	c->next_ns = now + (ret && !c->known && c->tries < GC_CONFIG_TRIES ? GC_CONFIG_RETRY_NS
									 : GC_CONFIG_REFRESH_NS);
}
