/* Unit tests for lib/theap: the intrusive min-heap behind every deadline timer. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "theap.h"
#include "testutil.h"

/* The heap property and the back-pointers, checked in full. */
static void check_heap(const THeap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        REQUIRE(h->v[i]->idx == i);
        REQUIRE(i == 0 || h->v[(i - 1) / 2]->due <= h->v[i]->due);
    }
}

START_TEST(test_empty)
{
    THeap h;
    th_init(&h);
    ck_assert_ptr_null(th_peek(&h));
    ck_assert_ptr_null(th_pop(&h));
    ThNode n;
    th_node_init(&n);
    ck_assert(!th_queued(&n));
    th_remove(&h, &n); /* not queued: nothing happens */
    ck_assert_uint_eq(h.n, 0);
    th_free(&h);
    th_free(&h); /* twice is harmless */
}
END_TEST

START_TEST(test_push_pop_order)
{
    static const int64_t dues[] = {50, 10, 40, 10, 30, -5, 20, 99, 0, 40, INT64_MAX, 7};
    ThNode nodes[NELEM(dues)];
    THeap h;
    th_init(&h);
    for (int i = 0; i < NELEM(dues); i++) {
        th_node_init(&nodes[i]);
        ck_assert_int_eq(th_set(&h, &nodes[i], dues[i]), 0);
        ck_assert(th_queued(&nodes[i]));
        check_heap(&h);
    }
    ck_assert_uint_eq(h.n, (uint32_t)NELEM(dues));
    int64_t last = INT64_MIN;
    for (int i = 0; i < NELEM(dues); i++) {
        ThNode *top = th_peek(&h);
        ThNode *n = th_pop(&h);
        ck_assert_ptr_eq(top, n);
        ck_assert_int_ge(n->due, last);
        ck_assert(!th_queued(n));
        last = n->due;
        check_heap(&h);
    }
    ck_assert_int_eq(last, INT64_MAX);
    ck_assert_ptr_null(th_pop(&h));
    th_free(&h);
}
END_TEST

/* th_set on a queued node moves it, up or down, without a second entry. */
START_TEST(test_reset_up_down)
{
    ThNode nodes[16];
    THeap h;
    th_init(&h);
    for (int i = 0; i < 16; i++) {
        th_node_init(&nodes[i]);
        ck_assert_int_eq(th_set(&h, &nodes[i], 100 + 10 * i), 0);
    }
    /* the last one moves to the front */
    ck_assert_int_eq(th_set(&h, &nodes[15], 1), 0);
    check_heap(&h);
    ck_assert_uint_eq(h.n, 16);
    ck_assert_ptr_eq(th_peek(&h), &nodes[15]);
    /* the front moves to the back */
    ck_assert_int_eq(th_set(&h, &nodes[15], 1000), 0);
    check_heap(&h);
    ck_assert_ptr_eq(th_peek(&h), &nodes[0]);
    ck_assert_int_eq(th_set(&h, &nodes[0], 999), 0);
    check_heap(&h);
    ck_assert_ptr_eq(th_peek(&h), &nodes[1]);
    /* the same due again changes nothing */
    ck_assert_int_eq(th_set(&h, &nodes[5], nodes[5].due), 0);
    check_heap(&h);
    ck_assert_uint_eq(h.n, 16);
    int64_t last = INT64_MIN;
    ThNode *n;
    int count = 0;
    while ((n = th_pop(&h)) != NULL) {
        ck_assert_int_ge(n->due, last);
        last = n->due;
        count++;
    }
    ck_assert_int_eq(count, 16);
    ck_assert_int_eq(last, 1000);
    th_free(&h);
}
END_TEST

START_TEST(test_remove_middle)
{
    /* A removal where the moved-in last node must go up, not down: the last
     * node (due 3) lands under a parent with a larger due. */
    static const int64_t dues[] = {1, 10, 2, 11, 12, 4, 5, 13, 14, 15, 16, 3};
    ThNode nodes[NELEM(dues)];
    THeap h;
    th_init(&h);
    for (int i = 0; i < NELEM(dues); i++) {
        th_node_init(&nodes[i]);
        ck_assert_int_eq(th_set(&h, &nodes[i], dues[i]), 0);
    }
    check_heap(&h);
    /* remove every node whose due is 11 or 12, wherever it sits */
    for (int i = 0; i < NELEM(dues); i++)
        if (dues[i] == 11 || dues[i] == 12) {
            th_remove(&h, &nodes[i]);
            ck_assert(!th_queued(&nodes[i]));
            check_heap(&h);
        }
    ck_assert_uint_eq(h.n, (uint32_t)NELEM(dues) - 2);
    /* removing the last node and the root */
    ThNode *last = h.v[h.n - 1];
    th_remove(&h, last);
    check_heap(&h);
    th_remove(&h, th_peek(&h));
    check_heap(&h);
    th_remove(&h, last); /* already out */
    ck_assert_uint_eq(h.n, (uint32_t)NELEM(dues) - 4);
    /* a removed node can be queued again */
    ck_assert_int_eq(th_set(&h, last, 0), 0);
    ck_assert_ptr_eq(th_peek(&h), last);
    check_heap(&h);
    th_free(&h);
    for (int i = 0; i < NELEM(dues); i++)
        ck_assert(!th_queued(&nodes[i])); /* th_free unqueues what was left */
}
END_TEST

/* Random operations against a brute-force model (fixed-seed LCG). */
static uint64_t lcg_state;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

#define NNODES 300

START_TEST(test_random_vs_model)
{
    lcg_state = 12345 + (uint64_t)_i;
    static ThNode nodes[NNODES];
    bool in[NNODES];
    int64_t due[NNODES];
    THeap h;
    th_init(&h);
    for (int i = 0; i < NNODES; i++) {
        th_node_init(&nodes[i]);
        in[i] = false;
    }
    uint32_t model_n = 0;
    for (int op = 0; op < 20000; op++) {
        int k = (int)(lcg() % NNODES);
        /* small due range: many ties */
        int64_t d = (int64_t)(lcg() % 500) - 100;
        switch (lcg() % 4) {
        case 0:
        case 1:
            REQUIRE(th_set(&h, &nodes[k], d) == 0);
            if (!in[k])
                model_n++;
            in[k] = true;
            due[k] = d;
            break;
        case 2:
            th_remove(&h, &nodes[k]);
            if (in[k])
                model_n--;
            in[k] = false;
            break;
        default: {
            ThNode *top = th_pop(&h);
            int64_t best = INT64_MAX;
            bool any = false;
            for (int i = 0; i < NNODES; i++)
                if (in[i] && due[i] < best) {
                    best = due[i];
                    any = true;
                }
            if (!any) {
                REQUIRE(top == NULL);
                break;
            }
            REQUIRE(top != NULL);
            int j = (int)(top - nodes);
            REQUIRE(j >= 0 && j < NNODES && in[j]);
            REQUIRE(due[j] == best);
            in[j] = false;
            model_n--;
            break;
        }
        }
        REQUIRE(h.n == model_n);
        if (op % 97 == 0)
            check_heap(&h);
        for (int i = 0; i < NNODES; i += 37)
            REQUIRE(th_queued(&nodes[i]) == in[i]);
    }
    check_heap(&h);
    /* drain in order */
    int64_t last = INT64_MIN;
    ThNode *n;
    while ((n = th_pop(&h)) != NULL) {
        REQUIRE(n->due >= last);
        last = n->due;
        model_n--;
    }
    ck_assert_uint_eq(model_n, 0);
    th_free(&h);
}
END_TEST

/* Growth past the first allocation keeps every node findable. */
START_TEST(test_growth)
{
    enum { N = 100000 };
    ThNode *nodes = calloc(N, sizeof *nodes);
    ck_assert_ptr_nonnull(nodes);
    THeap h;
    th_init(&h);
    for (int i = 0; i < N; i++) {
        th_node_init(&nodes[i]);
        REQUIRE(th_set(&h, &nodes[i], (int64_t)((i * 7919L) % N)) == 0);
    }
    check_heap(&h);
    for (int i = 0; i < N; i++) {
        ThNode *p = th_pop(&h);
        REQUIRE(p->due == i);
    }
    th_free(&h);
    free(nodes);
}
END_TEST

Suite *suite_theap(void)
{
    Suite *s = suite_create("theap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_push_pop_order);
    tcase_add_test(tc, test_reset_up_down);
    tcase_add_test(tc, test_remove_middle);
    tcase_add_loop_test(tc, test_random_vs_model, 0, 4);
    tcase_add_test(tc, test_growth);
    suite_add_tcase(s, tc);
    return s;
}
