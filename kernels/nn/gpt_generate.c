/* gpt_generate.c — sampling text from the GPT of gpt.h, one token at a time.
 *
 * Each step runs the whole forward on the last min(block_size, max_T) tokens with batch 1 and
 * reads the logits of the last position: quadratic in the window, which is fine for the short
 * samples a lesson prints. On a GPU model the last position's logits (V floats) are copied
 * back each step; the sampling itself is on the host. Left out: KV caching, top-k / nucleus
 * sampling.
 */
#include <math.h>
#include <stdlib.h>
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
    const bool on_cpu = m->ops->device == DL_DEVICE_CPU;
    float *host = NULL; /* the last position's logits, copied back from the device */
    if (!on_cpu && !(host = malloc((size_t)V * sizeof(float))))
        return DL_FAIL(DL_ERR_ALLOC, "%d logits on the host", V);
    dl_status s = DL_OK;
    for (int i = 0; i < n_new && s == DL_OK; i++) {
        int len = n_prompt + i, T = len < window ? len : window;
        s = dl_gpt_forward(m, out + len - T, NULL, 1, T, NULL);
        const float *last = m->a.logits + (size_t)(T - 1) * V;
        if (s == DL_OK && !on_cpu) s = m->ops->to_host(host, last, (size_t)V * sizeof(float));
        if (s == DL_OK) out[len] = pick_token(on_cpu ? last : host, V, temperature, rng);
    }
    free(host);
    return s;
}
