/* gpt_generate.c — sampling text from the GPT of gpt.h, one token at a time.
 *
 * Each step runs the whole forward on the last min(block_size, max_T) tokens with batch 1 and
 * reads the logits of the last position: quadratic in the window, which is fine for the short
 * samples a lesson prints. Left out: KV caching, top-k / nucleus sampling.
 */
#include <math.h>
#include <string.h>

#include "dlab/gpt.h"

/* The token drawn from softmax(logits / temperature), or the first argmax at temperature 0.
 * The softmax is computed in double, shifted by the max so no exp overflows. */
static int pick_token(const float *logits, int V, float temperature, dl_rng *rng) {
    int best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (temperature == 0.0f) return best;
    double total = 0;
    for (int v = 0; v < V; v++) total += exp(((double)logits[v] - logits[best]) / temperature);
    double u = dl_rng_uniform_f64(rng) * total, acc = 0;
    for (int v = 0; v < V; v++) {
        acc += exp(((double)logits[v] - logits[best]) / temperature);
        if (u < acc) return v;
    }
    return best; /* u landed on the rounding slack at the end */
}

dl_status dl_gpt_generate(dl_gpt *m, const int *prompt, int n_prompt, int n_new, float temperature,
                          dl_rng *rng, int *out) {
    if (!m || !m->params) return DL_FAIL(DL_ERR_ARG, "model is not created");
    if (!prompt || !out || n_prompt < 1 || n_new < 0)
        return DL_FAIL(DL_ERR_ARG, "prompt and out are required, n_prompt=%d must be >= 1 and n_new=%d >= 0",
                       n_prompt, n_new);
    if (!(temperature >= 0.0f) || !isfinite(temperature))
        return DL_FAIL(DL_ERR_ARG, "temperature=%g must be finite and >= 0", (double)temperature);
    if (temperature > 0.0f && !rng) return DL_FAIL(DL_ERR_ARG, "rng is NULL but temperature > 0");
    memmove(out, prompt, (size_t)n_prompt * sizeof(int));
    const int window = m->cfg.block_size < m->max_T ? m->cfg.block_size : m->max_T;
    const int V = m->cfg.vocab;
    for (int i = 0; i < n_new; i++) {
        int len = n_prompt + i, T = len < window ? len : window;
        DL_TRY(dl_gpt_forward(m, out + len - T, NULL, 1, T, NULL));
        out[len] = pick_token(m->a.logits + (size_t)(T - 1) * V, V, temperature, rng);
    }
    return DL_OK;
}
