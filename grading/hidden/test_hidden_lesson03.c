/* test_hidden_lesson03.c — grading's own tests for lesson 3's exercise (merging the adapters
 * into the base weights: W += (α/r)·B·A), not shipped in the handout: `make grade LESSON=3`
 * copies it into the tree it grades. The merged weights are checked entry by entry against
 * (α/r)·B·A computed here in double; only the targeted projections may change; q,v adapters
 * at rank 1 and 3; the fast backend. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/lora.h"

enum { V = 13, T = 6, L = 2, NH = 2, C = 8, B = 2 };

static void check_merge(const char *variants, const char *spec, int rank) {
    dl_gpt_config cfg = {.vocab = V, .block_size = T, .n_layer = L, .n_head = NH, .n_embd = C};
    dl_gpt m;
    assert_int_equal(dl_gpt_create(&m, &cfg, B, T, variants), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 21);
    assert_int_equal(dl_gpt_init(&m, &r), DL_OK);
    dl_lora lo;
    dl_lora_config lc = {.rank = rank, .alpha = 3.0f * rank};
    assert_int_equal(dl_lora_parse_targets(spec, &lc.targets), DL_OK);
    assert_int_equal(dl_lora_create(&lo, &m, &lc, &r), DL_OK);
    for (int i = 0; i < lo.n_adapters; i++) /* B = 0 after create: make the product nonzero */
        dl_rng_fill_normal(&r, lo.adapters[i].B, (size_t)lo.adapters[i].out * rank, 0.0f, 0.5f);
    float *w0 = malloc(m.n_params * sizeof(float));
    memcpy(w0, m.params, m.n_params * sizeof(float));
    assert_int_equal(dl_gpt_attach_lora(&m, &lo, true), DL_OK);
    if (dl_lora_merge(&lo, &m) != DL_OK) fail_msg("dl_lora_merge: %s", dl_last_error());

    /* Expected change: for every adapter, (α/r)·B·A added to its rows of the base weight. */
    double *want = calloc(m.n_params, sizeof(double));
    for (size_t k = 0; k < m.n_params; k++) want[k] = w0[k];
    const double scale = lc.alpha / rank;
    for (int i = 0; i < lo.n_adapters; i++) {
        const dl_lora_adapter *ad = &lo.adapters[i];
        size_t base;
        if (ad->target <= DL_LORA_V) /* q, k, v: row blocks of the fused (3C, C) qkv weight */
            base = (size_t)(m.p[DL_GPT_QKVW] - m.params) + (size_t)ad->layer * 3 * C * C + (size_t)(ad->target - DL_LORA_Q) * C * C;
        else if (ad->target == DL_LORA_ATTN_PROJ)
            base = (size_t)(m.p[DL_GPT_ATTPROJW] - m.params) + (size_t)ad->layer * C * C;
        else
            continue; /* this test uses q, k, v and the attention projection only */
        for (int o = 0; o < ad->out; o++)
            for (int j = 0; j < ad->in; j++) {
                double s = 0;
                for (int q = 0; q < rank; q++) s += (double)ad->B[o * rank + q] * ad->A[q * ad->in + j];
                want[base + (size_t)o * ad->in + j] += scale * s;
            }
    }
    for (size_t k = 0; k < m.n_params; k++)
        if (!(fabs(m.params[k] - want[k]) <= 1e-5 * (1.0 + fabs(want[k]))))
            fail_msg("%s %s r=%d: param[%zu] = %.8g after the merge, want %.8g (was %.8g)", variants, spec, rank, k,
                     m.params[k], want[k], w0[k]);
    free(want), free(w0);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void test_merge_adds_scaled_BA_to_the_targeted_rows_only(void **state) {
    (void)state;
    check_merge("ref", "q,v", 1);
    check_merge("ref", "attn", 3);
    check_merge("fast", "q,v", 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_adds_scaled_BA_to_the_targeted_rows_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
