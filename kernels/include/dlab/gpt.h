/* gpt.h — a small GPT-2-style transformer language model (character level in lesson 0).
 *
 *   tokens (B,T) → wte[token] + wpe[t] → L × block → layernorm → logits = x·wteᵀ → loss
 *   block:  x = x + attn_proj(attention(qkv(ln1(x))))        causal, n_head heads
 *           x = x + fc_proj(gelu(fc(ln2(x))))                 hidden width 4C
 *
 * The lm head shares its weight with the token embedding (weight tying, as GPT-2), so the
 * backward adds into dwte from two places. Parameters, gradients and activations each live
 * in one allocation with named pointers into it (llm.c's layout: every per-layer tensor is
 * stored for all layers contiguously, layer l at offset l·size). Ops run through the
 * registry: "ref" builds the model from every family's ref variant (the oracle for tests),
 * "fast" from the fastest CPU variant of each (for attention, dl_attention_best), "cuda" from
 * the CUDA backend's (cuBLAS linear, own kernels for the rest, attention "cuda_flash"). Each
 * may name its attention variant instead ("fast,attention=flash_avx512"; on "cuda" a CUDA
 * one): a flash variant keeps the per-row log-sum-exp lse, (L,B,NH,T), where a materialized
 * one keeps att, (L,B,NH,T,T).
 *
 * Where the buffers live (as mlp.h): every buffer belongs to the backend the model was
 * created with (m->ops). On "cuda" params, grads, activations, tokens and targets are DEVICE
 * memory and the host must not read them through m->p, m->a, ...; the API takes host tokens
 * and targets, returns the mean loss to the host, and dl_gpt_params_to_host / _from_host
 * move the parameters (init computes them on the host and uploads: the same rng gives the
 * same weights on every device). On "ref" and "fast" everything is host memory, as before.
 *
 * Left out: dropout, bias-free layers, KV caching (generation re-runs the forward on
 * the whole window for every new token), mixed precision.
 */
#ifndef DLAB_GPT_H
#define DLAB_GPT_H

#include <stddef.h>

#include "backend.h"
#include "core.h"
#include "linear.h" /* dl_linear_args, for the inference hook */
#include "mlp.h" /* dl_mem_report */
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dl_lora; /* lora.h */

typedef struct dl_gpt_config {
    int vocab;      /* V: token ids are 0..V-1 */
    int block_size; /* longest context (rows of wpe) */
    int n_layer;    /* L */
    int n_head;     /* NH, must divide n_embd */
    int n_embd;     /* C */
} dl_gpt_config;

/* 4 layers, 4 heads, width 128, context 128, for a vocabulary of `vocab` tokens. */
dl_gpt_config dl_gpt_default_config(int vocab);

/* Parameters: V·C + block·C + L·(12C² + 13C) + 2C. */
size_t dl_gpt_param_count(const dl_gpt_config *cfg);

/* The parameter tensors, in their order in m->params. */
enum { DL_GPT_WTE, DL_GPT_WPE, DL_GPT_LN1W, DL_GPT_LN1B, DL_GPT_QKVW, DL_GPT_QKVB,
       DL_GPT_ATTPROJW, DL_GPT_ATTPROJB, DL_GPT_LN2W, DL_GPT_LN2B, DL_GPT_FCW, DL_GPT_FCB,
       DL_GPT_FCPROJW, DL_GPT_FCPROJB, DL_GPT_LNFW, DL_GPT_LNFB, DL_GPT_N_TENSORS };

typedef struct dl_gpt_tensor {
    const char *name; /* "wte", "qkvw", ... */
    int ndim;         /* per-layer tensors have a leading L dimension */
    long shape[3];
    size_t offset, size; /* in floats, into params / grads */
    bool is_matrix;      /* a weight matrix or embedding (weight decay applies) */
} dl_gpt_tensor;

/* The shapes and offsets of the DL_GPT_N_TENSORS parameter tensors. */
void dl_gpt_tensors(const dl_gpt_config *cfg, dl_gpt_tensor out[DL_GPT_N_TENSORS]);

/* Activations of one forward (and, in a second copy, their gradients), for max_B × max_T. */
typedef struct dl_gpt_acts {
    float *encoded;                       /* (B,T,C) */
    float *ln1, *ln1_mean, *ln1_rstd;     /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *qkv;                           /* (L,B,T,3C) */
    float *atty;                          /* (L,B,T,C) attention output before its projection */
    float *att;                           /* (L,B,NH,T,T) probabilities, or NULL (flash) */
    float *lse;                           /* (L,B,NH,T) log-sum-exp per row (flash), or NULL */
    float *attproj, *residual2;           /* (L,B,T,C) */
    float *ln2, *ln2_mean, *ln2_rstd;     /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *fch, *fch_gelu;                /* (L,B,T,4C) */
    float *fcproj, *residual3;            /* (L,B,T,C) */
    float *lnf, *lnf_mean, *lnf_rstd;     /* (B,T,C), (B,T), (B,T) */
    float *logits, *probs, *losses;       /* (B,T,V), (B,T,V), (B,T) */
} dl_gpt_acts;

typedef struct dl_gpt {
    dl_gpt_config cfg;
    int max_B, max_T;
    size_t n_params;
    float *params, *grads; /* (n_params) each, laid out as dl_gpt_tensors says */
    float *p[DL_GPT_N_TENSORS], *g[DL_GPT_N_TENSORS];
    float *act_mem, *grad_act_mem; /* the two activation allocations */
    size_t n_acts, n_grad_acts;    /* floats in each (the gradient copy skips att, means, probs) */
    dl_gpt_acts a, da;
    int *tokens, *targets; /* (max_B·max_T) copies of the last forward's inputs and targets */
    float *mean_loss_dev; /* (1) where a non-CPU softmax_xent writes the mean loss; NULL on CPU */
    int B, T;     /* shape of the last forward */
    bool has_targets;
    const dl_variant *embedding, *layernorm, *linear, *attention, *gelu, *residual, *xent;
    const dl_ops *ops; /* the backend every buffer above belongs to */
    /* Low-rank adapters (lora.h), set by dl_gpt_attach_lora; NULL: none, the plain GPT. With
     * freeze_base the backward computes no base-parameter gradient (m->grads stays zero). */
    struct dl_lora *lora;
    bool freeze_base;
    /* Inference hook (dl_gpt_set_linear_hook); NULL: every projection is the fp32 linear. */
    struct dl_gpt_hook_slot {
        dl_status (*fn)(void *ctx, int layer, int proj, const dl_linear_args *args);
        void *ctx;
    } linear_hook;
} dl_gpt;

/* Allocate a model for batches of up to max_B sequences of up to max_T tokens
 * (max_T <= block_size). variants: "ref", "fast" or "cuda", optionally followed by
 * ",attention=NAME" to pick the attention variant by its registry name (e.g.
 * "ref,attention=flash": every op the oracle except attention); the name must be a variant of
 * the same device. A bad config is DL_ERR_ARG naming the fields ("n_head=3 does not divide
 * n_embd=8"), as is an unknown or unavailable attention name. "cuda" without a GPU or a CUDA
 * build is DL_ERR_DEVICE; "cuda" in a build where a family the GPT needs has no CUDA variant
 * (attention "cuda_flash" not registered) is DL_ERR_UNSUPPORTED naming the family.
 * Activations hold att only when the attention variant materializes it
 * (dl_attention_materializes), lse otherwise. Parameters are zero until dl_gpt_init. */
dl_status dl_gpt_create(dl_gpt *m, const dl_gpt_config *cfg, int max_B, int max_T,
                        const char *variants);
void dl_gpt_free(dl_gpt *m);

/* GPT-2 initialisation: weights and embeddings N(0, 0.02²), the two residual projections
 * (attproj, fcproj) N(0, (0.02/√(2L))²), biases 0, layernorm gammas 1 and betas 0. Computed
 * on the host and uploaded: the same rng gives the same weights on every device. */
dl_status dl_gpt_init(dl_gpt *m, dl_rng *rng);

/* Copy the n_params parameters (laid out as dl_gpt_tensors says) to or from host memory.
 * What trainers and checkpoints use instead of touching m->params. */
dl_status dl_gpt_params_to_host(const dl_gpt *m, float *host);
dl_status dl_gpt_params_from_host(dl_gpt *m, const float *host);

/* Forward tokens (B,T), host memory. With targets (B,T, host), also the mean next-token
 * cross-entropy in *loss (may be NULL); with targets NULL only the logits (m->a.logits,
 * (B,T,V), on the model's device). On "cuda" a token outside [0,V) or a target outside
 * [0,V) other than DL_XENT_IGNORE is DL_ERR_ARG, checked on the host before the copy (the
 * CUDA kernels would only turn it into NaN). */
dl_status dl_gpt_forward(dl_gpt *m, const int *tokens, const int *targets, int B, int T, float *loss);

/* The projections of a forward pass, in the order they run within a layer; the tied output
 * head (lnf · wteᵀ) comes once after the last layer, with layer = n_layer. */
typedef enum dl_gpt_proj {
    DL_GPT_PROJ_QKV = 0, /* ln1 (N,C)      → qkv (N,3C)  */
    DL_GPT_PROJ_ATTN,    /* atty (N,C)     → attproj (N,C) */
    DL_GPT_PROJ_FC,      /* ln2 (N,C)      → fch (N,4C)  */
    DL_GPT_PROJ_FC_PROJ, /* gelu (N,4C)    → fcproj (N,C) */
    DL_GPT_PROJ_HEAD,    /* lnf (N,C)      → logits (N,V) */
    DL_GPT_PROJ_COUNT
} dl_gpt_proj;

/* An inference hook (lesson 4: quantized linears, activation statistics). While one is set,
 * the forward calls fn(ctx, layer, proj, args) INSTEAD OF the fp32 linear for every
 * projection: args holds the input (args->inp, (N, C) on the model's device), the fp32 weight
 * (OC, C), the bias (or NULL) and the output to write (args->out, (N, OC)); the hook must
 * write all of out (it may call dl_linear_forward(m->linear, args) itself). LoRA adapters, when
 * attached, are still added after the hook. A non-DL_OK return ends the forward with it.
 * dl_gpt_backward refuses (DL_ERR_ARG) while a hook is set: the hook's forward has no
 * backward. fn = NULL removes the hook. */
typedef dl_status (*dl_gpt_linear_hook)(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args);
void dl_gpt_set_linear_hook(dl_gpt *m, dl_gpt_linear_hook fn, void *ctx);

/* Gradients of the last forward's mean loss into m->grads (zeroed first). DL_ERR_ARG when
 * the last forward had no targets. */
dl_status dl_gpt_backward(dl_gpt *m);

/* Bytes of parameters, gradients and activations (both copies and the targets); optimizer
 * state is the trainer's: 0. */
dl_mem_report dl_gpt_memory(const dl_gpt *m);

/* Continue prompt[0..n_prompt) (n_prompt >= 1) by n_new tokens: out (n_prompt + n_new)
 * receives the prompt then the new tokens. Each new token comes from the forward of the last
 * min(block_size, max_T) tokens: sampled from softmax(logits / temperature) with rng, or the
 * argmax when temperature is 0 (then rng may be NULL). Overwrites the activations (and
 * forgets the last training forward: call it between steps, not between forward and
 * backward). */
dl_status dl_gpt_generate(dl_gpt *m, const int *prompt, int n_prompt, int n_new, float temperature,
                          dl_rng *rng, int *out);

#ifdef __cplusplus
}
#endif
#endif
