// SPDX-License-Identifier: GPL-2.0
/*
 * stack_agg: the one ranking of trigger sites. stack_agg__ranked (top's live
 * view) ranks as stack_agg__sort (--by-stack at exit) does, leaves the sites
 * where they are, and adding goes on after it.
 */
#include <stdlib.h>
#include "check.h"
#include "trace/stack_agg.h"

static const char *const funcs[] = { "a", "b", "c", "d", "e" };

/* A one-frame stack of leaf funcs[i] (interned: equal pointers). */
static void stack_of(struct py_stack *st, int i)
{
	memset(st, 0, sizeof(*st));
	st->nr = 1;
	st->frames[0] = (struct py_frame_sym){ funcs[i], "/app.py", 10 + i, 1 };
}

static __u64 total(const struct stack_site *s)
{
	return s->sum_ns[0] + s->sum_ns[1] + s->sum_ns[2];
}

int main(void)
{
	static struct py_stack st;
	/* per site: collections of (gen, ns) */
	static const __u64 ns[5] = { 300, 5000, 70, 1200, 900 };
	struct stack_agg a, b;
	const struct stack_site **r;
	int i, n, k;

	stack_agg__init(&a, false);
	stack_agg__init(&b, false);
	for (k = 0; k < 3; k++)
		for (i = 0; i < 5; i++) {
			stack_of(&st, i);
			stack_agg__add(&a, &st, k % 3, ns[i]);
			stack_agg__add(&b, &st, k % 3, ns[i]);
		}
	stack_agg__add(&a, NULL, 0, 50);	/* a build without stacks */
	stack_agg__add(&b, NULL, 0, 50);
	n = stack_agg__ranked(&a, &r);
	CHECK_EQ(n, 6);
	for (i = 1; i < n; i++)
		CHECK(total(r[i - 1]) >= total(r[i]), "rank %d: %llu before %llu", i,
		      (unsigned long long)total(r[i - 1]), (unsigned long long)total(r[i]));
	CHECK_STR(r[0]->frames[0].func, "b");
	CHECK_EQ(total(r[0]), 15000);
	CHECK(r[n - 1]->unavailable, "the smallest: the unavailable stack (150 ns)");
	/* the sites stay where they were: first added first */
	CHECK_STR(a.sites[0].frames[0].func, "a");
	/* the same order as the sort --by-stack used */
	stack_agg__sort(&b);
	for (i = 0; i < n; i++)
		CHECK_EQ(total(r[i]), total(&b.sites[i]));
	free(r);
	/* adding goes on: an existing site grows, no new one */
	stack_of(&st, 2);
	stack_agg__add(&a, &st, 2, 100000);
	CHECK_EQ(a.nr, 6);
	n = stack_agg__ranked(&a, &r);
	CHECK_STR(r[0]->frames[0].func, "c");
	CHECK_EQ(r[0]->count[2], 2);
	CHECK_EQ(r[0]->max_ns[2], 100000);
	free(r);
	stack_agg__free(&a);
	/* nothing: an empty ranking, not an error */
	stack_agg__init(&a, false);
	CHECK_EQ(stack_agg__ranked(&a, &r), 0);
	free(r);
	stack_agg__free(&a);
	stack_agg__free(&b);
	return check_done();
}
