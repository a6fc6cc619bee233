/* test_data_text.c — the fortunes corpus (on a tiny fortune directory the test writes) and
 * the mini-batch samplers. One test reads the real Debian corpus when it is installed. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "tmpdir.h"


static void write_file(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Three categories: 3 + 2 + 2 fortunes, one empty fortune, a CRLF separator, no final %. */
static int make_corpus(void **state) {
    (void)state;
    if (tmpdir_make("text") != 0) return -1;
    write_file("alpha", "Abc.\n%\nTwo\nlines.\n%\n%\nzz\n%\n");
    write_file("alpha.dat", "\x01\x02\x03 strfile index: must never be read");
    write_file("beta", "b1 100%\n%\r\nb2\n");
    write_file("gamma", "\tg1\n%\ng2!\n%\n");
    return 0;
}

static int remove_corpus(void **state) {
    (void)state;
    return tmpdir_remove();
}

static const char *const ALL[] = {"alpha", "beta", "gamma"};
static const char *const FORTUNES[] = {"Abc.", "Two\nlines.", "zz", "b1 100%", "b2", "\tg1", "g2!"};
enum { NFORTUNES = 7 };

/* Split a decoded set at the separator; count how often each expected fortune occurs. */
static int count_fortunes(const dl_text_corpus *c, const int *ids, size_t n, int *seen) {
    char *text = malloc(n + 1);
    assert_int_equal(dl_text_decode(c, ids, n, text), DL_OK);
    text[n] = 0;
    int pieces = 0;
    const char sep = (char)c->id_to_byte[c->separator_id];
    assert_true(n > 0 && text[n - 1] == sep); /* every fortune ends with the separator */
    for (size_t start = 0, i = 0; i < n; i++) {
        if (text[i] != sep) continue;
        int found = 0;
        for (int k = 0; k < NFORTUNES; k++)
            if (strlen(FORTUNES[k]) == i - start &&
                memcmp(text + start, FORTUNES[k], i - start) == 0)
                seen[k]++, found = 1;
        if (!found) fail_msg("unexpected fortune \"%.*s\"", (int)(i - start), text + start);
        pieces++, start = i + 1;
    }
    free(text);
    return pieces;
}

static void test_fortunes_split_by_whole_fortunes_each_exactly_once(void **state) {
    (void)state;
    dl_fortunes_options o = {
        .dir = tmpdir, .categories = ALL, .n_categories = 3, .val_fraction = 0.3, .seed = 42};
    dl_text_corpus c;
    assert_int_equal(dl_fortunes_load(&c, &o), DL_OK);
    assert_int_equal(c.train_fortunes + c.val_fortunes, NFORTUNES);
    assert_int_equal(c.val_fortunes, 2); /* round(0.3 · 7) */
    int seen[NFORTUNES] = {0};
    assert_int_equal(count_fortunes(&c, c.train, c.train_len, seen), c.train_fortunes);
    assert_int_equal(count_fortunes(&c, c.val, c.val_len, seen), c.val_fortunes);
    for (int k = 0; k < NFORTUNES; k++)
        assert_int_equal(seen[k], 1);

    dl_text_corpus again;
    assert_int_equal(dl_fortunes_load(&again, &o), DL_OK); /* same seed, same split */
    assert_int_equal(again.val_len, c.val_len);
    assert_memory_equal(again.val, c.val, c.val_len * sizeof(int));
    dl_text_corpus_free(&again);
    int differs = 0;
    for (uint64_t seed = 1; seed < 6; seed++) { /* other seeds choose other fortunes */
        o.seed = seed;
        assert_int_equal(dl_fortunes_load(&again, &o), DL_OK);
        differs |=
            again.val_len != c.val_len || memcmp(again.val, c.val, c.val_len * sizeof(int)) != 0;
        dl_text_corpus_free(&again);
    }
    assert_true(differs);
    dl_text_corpus_free(&c);
}

static void test_vocabulary_is_the_sorted_bytes_and_encoding_round_trips(void **state) {
    (void)state;
    dl_fortunes_options o = {.dir = tmpdir, .categories = ALL, .n_categories = 3};
    dl_text_corpus c;
    assert_int_equal(dl_fortunes_load(&c, &o), DL_OK);
    assert_int_equal(c.val_fortunes, 0);
    assert_int_equal(c.separator_id, 0); /* NUL sorts first */
    const char *all = "Abc.Twolines.zzb1 100%b2g1g2!\t\n";
    int distinct = 1; /* the separator */
    for (int b = 1; b < 256; b++)
        distinct += strchr(all, b) != NULL;
    assert_int_equal(c.vocab_size, distinct);
    for (int i = 1; i < c.vocab_size; i++)
        assert_true(c.id_to_byte[i - 1] < c.id_to_byte[i]);
    int ids[16];
    char back[16];
    assert_int_equal(dl_text_encode(&c, "zz!\n", 4, ids), DL_OK);
    assert_int_equal(dl_text_decode(&c, ids, 4, back), DL_OK);
    assert_memory_equal(back, "zz!\n", 4);
    assert_int_equal(dl_text_encode(&c, "Q", 1, ids), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "0x51"));
    ids[0] = c.vocab_size;
    assert_int_equal(dl_text_decode(&c, ids, 1, back), DL_ERR_ARG);
    dl_text_corpus_free(&c);
}

static void test_missing_category_names_the_fortunes_package(void **state) {
    (void)state;
    const char *cats[] = {"alpha", "nosuch"};
    dl_fortunes_options o = {.dir = tmpdir, .categories = cats, .n_categories = 2};
    dl_text_corpus c;
    assert_int_equal(dl_fortunes_load(&c, &o), DL_ERR_IO);
    assert_non_null(strstr(dl_last_error(), "nosuch"));
    assert_non_null(strstr(dl_last_error(), "sudo apt-get install fortunes"));
    assert_null(c.train);
    const char *sneaky[] = {"../etc/passwd"};
    o.categories = sneaky, o.n_categories = 1;
    assert_int_equal(dl_fortunes_load(&c, &o), DL_ERR_ARG);
    o.categories = ALL, o.n_categories = 3, o.val_fraction = 1.0;
    assert_int_equal(dl_fortunes_load(&c, &o), DL_ERR_ARG);
}

static void test_real_fortunes_corpus_loads_with_a_tenth_for_validation(void **state) {
    (void)state;
    if (access(DL_FORTUNES_DIR "/wisdom", R_OK) != 0) skip();
    dl_fortunes_options o = {.val_fraction = 0.1, .seed = 1};
    dl_text_corpus c;
    assert_int_equal(dl_fortunes_load(&c, &o), DL_OK);
    assert_true(c.train_fortunes > 1000);
    assert_in_range(c.val_fortunes * 10, c.train_fortunes + c.val_fortunes - 10,
                    c.train_fortunes + c.val_fortunes + 10);
    assert_true(c.train_len > 150000 && c.vocab_size > 60 && c.vocab_size < 200);
    dl_text_corpus_free(&c);
}

/* ------------------------------------------------------------- samplers */

static void test_index_sampler_epochs_are_permutations_and_reshuffle(void **state) {
    (void)state;
    dl_index_sampler s;
    assert_int_equal(dl_sampler_init(&s, 10, 7), DL_OK);
    int idx[3], seen[10] = {0}, first[9];
    for (int b = 0; b < 3; b++) { /* 3 batches of 3 from 10: one index dropped */
        assert_int_equal(dl_sampler_next(&s, idx, 3), DL_OK);
        for (int k = 0; k < 3; k++)
            seen[idx[k]]++, first[3 * b + k] = idx[k];
    }
    int distinct = 0;
    for (int i = 0; i < 10; i++)
        distinct += seen[i] == 1;
    assert_int_equal(distinct, 9);
    assert_int_equal(s.epoch, 0);
    assert_int_equal(dl_sampler_next(&s, idx, 3), DL_OK); /* a new epoch starts */
    assert_int_equal(s.epoch, 1);
    dl_index_sampler t;
    assert_int_equal(dl_sampler_init(&t, 10, 7), DL_OK); /* same seed, same order */
    for (int b = 0; b < 3; b++) {
        assert_int_equal(dl_sampler_next(&t, idx, 3), DL_OK);
        assert_memory_equal(idx, first + 3 * b, sizeof idx);
    }
    assert_int_equal(dl_sampler_next(&t, idx, 11), DL_ERR_ARG);
    dl_sampler_free(&s), dl_sampler_free(&t);
}

static void test_index_sampler_restored_from_its_state_continues_identically(void **state) {
    (void)state;
    dl_index_sampler a, b;
    int x[4], y[4];
    assert_int_equal(dl_sampler_init(&a, 37, 3), DL_OK);
    for (int i = 0; i < 13; i++)
        assert_int_equal(dl_sampler_next(&a, x, 4), DL_OK);
    uint64_t saved[DL_SAMPLER_STATE_WORDS];
    dl_sampler_save(&a, saved);
    assert_int_equal(dl_sampler_init(&b, 37, 999), DL_OK);
    assert_int_equal(dl_sampler_restore(&b, saved), DL_OK);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(dl_sampler_next(&a, x, 4), DL_OK);
        assert_int_equal(dl_sampler_next(&b, y, 4), DL_OK);
        assert_memory_equal(x, y, sizeof x);
    }
    assert_int_equal(a.epoch, b.epoch);
    dl_sampler_free(&b);
    assert_int_equal(dl_sampler_init(&b, 5, 1), DL_OK);
    saved[4] = 30; /* a position past n: a sampler over another dataset */
    assert_int_equal(dl_sampler_restore(&b, saved), DL_ERR_ARG);
    dl_sampler_free(&a), dl_sampler_free(&b);
}

static void test_text_windows_give_next_token_targets_inside_the_text(void **state) {
    (void)state;
    enum { N = 50, B = 64, T = 8 };
    int tokens[N], in[B * T], tg[B * T], in2[B * T], tg2[B * T];
    for (int i = 0; i < N; i++)
        tokens[i] = i;
    dl_rng r, r2;
    dl_rng_seed(&r, 5), dl_rng_seed(&r2, 5);
    assert_int_equal(dl_text_sample_batch(tokens, N, B, T, &r, in, tg), DL_OK);
    bool saw_first = false, saw_last = false;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            assert_int_equal(in[b * T + t], in[b * T] + t); /* a contiguous window */
            assert_int_equal(tg[b * T + t], in[b * T + t] + 1);
            assert_true(tg[b * T + t] < N);
            saw_first |= in[b * T] == 0, saw_last |= in[b * T] == N - T - 1;
        }
    assert_true(saw_first && saw_last); /* both extreme starts occur in 64 draws of 42 */
    assert_int_equal(dl_text_sample_batch(tokens, N, B, T, &r2, in2, tg2), DL_OK);
    assert_memory_equal(in, in2, sizeof in);
    assert_int_equal(dl_text_sample_batch(tokens, T, 1, T, &r, in, tg), DL_ERR_ARG);
    assert_int_equal(dl_text_sample_batch(tokens, T + 1, 1, T, &r, in, tg), DL_OK);
    assert_int_equal(in[0], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fortunes_split_by_whole_fortunes_each_exactly_once),
        cmocka_unit_test(test_vocabulary_is_the_sorted_bytes_and_encoding_round_trips),
        cmocka_unit_test(test_missing_category_names_the_fortunes_package),
        cmocka_unit_test(test_real_fortunes_corpus_loads_with_a_tenth_for_validation),
        cmocka_unit_test(test_index_sampler_epochs_are_permutations_and_reshuffle),
        cmocka_unit_test(test_index_sampler_restored_from_its_state_continues_identically),
        cmocka_unit_test(test_text_windows_give_next_token_targets_inside_the_text),
    };
    return cmocka_run_group_tests(tests, make_corpus, remove_corpus);
}
