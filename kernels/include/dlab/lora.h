/* lora.h — low-rank adapters (Hu et al. 2021, "LoRA") for the GPT's linear layers.
 *
 * A targeted projection with frozen base weight W0 (out × in) gets two trainable matrices,
 * A (r × in) and B (out × r), and computes
 *
 *     y = W0·x + b + (α/r)·B·(A·x)
 *
 * A starts Kaiming-uniform and B at zero, so an attached, untrained adapter leaves the model's
 * output exactly as it was. Training updates only A and B (the base is frozen: its gradients
 * are not even computed), so the trainable parameters per layer drop from out·in to r·(in +
 * out). merge folds W0 += (α/r)·B·A into the base (inference then costs nothing extra);
 * unmerge subtracts it again.
 *
 * Targets, per transformer layer (names for dl_lora_parse_targets):
 *     "q", "k", "v"   the three C×C slices of the fused qkv projection (C → 3C)
 *     "attn_proj"     the attention output projection (C → C)
 *     "fc"            the MLP up-projection (C → 4C)
 *     "fc_proj"       the MLP down-projection (4C → C)
 *   and the groups "qv" (the paper's default: q and v), "attn" (q, k, v, attn_proj),
 *   "all" (attn + fc + fc_proj). A spec is a comma-separated list: "q,v", "attn,fc".
 *
 * Memory: all adapters of one GPT live in one allocation for A/B (params), one for their
 * gradients, one for the activations h = A·x the backward needs, on the GPT's backend (the
 * CPU, or the GPU with "cuda").
 *
 * Adapter files (dl_checkpoint files of kind "lora": named tensors, CRC-32, atomic rename) hold the config, A and B of every adapter and the CRC-32 of the base model's
 * parameters they were trained on; loading one onto another base is DL_ERR_ARG ("adapter
 * for another base model"), so one base file serves many adapters, switched at run time
 * without reloading the base.
 *
 * Errors: rank < 1 or larger than min(in, out) of a targeted layer, alpha <= 0, an unknown
 * target name, an empty target set: DL_ERR_ARG with the reason.
 * Left out: dropout on the adapter input, bias adapters, other models than the GPT.
 */
#ifndef DLAB_LORA_H
#define DLAB_LORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "core.h"
#include "gpt.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dl_lora_target {
    DL_LORA_Q,
    DL_LORA_K,
    DL_LORA_V,
    DL_LORA_ATTN_PROJ,
    DL_LORA_FC,
    DL_LORA_FC_PROJ,
    DL_LORA_N_TARGETS
} dl_lora_target;

/* "q", "k", "v", "attn_proj", "fc", "fc_proj". */
const char *dl_lora_target_name(dl_lora_target t);

/* Parse a target spec ("qv", "q,v", "attn", "all", "attn,fc", ...) into a bit mask of
 * (1u << dl_lora_target). DL_ERR_ARG naming the unknown word, or for an empty spec. */
dl_status dl_lora_parse_targets(const char *spec, unsigned *mask);

typedef struct dl_lora_config {
    int rank;         /* r >= 1 */
    float alpha;      /* the update is scaled by alpha / rank; > 0 */
    unsigned targets; /* bit mask of (1u << dl_lora_target), not 0 */
} dl_lora_config;

/* One adapter: where its A and B live and the shape of the projection it adapts. */
typedef struct dl_lora_adapter {
    int layer;
    dl_lora_target target;
    int in, out;              /* the projection: in → out (e.g. C → C for "q") */
    float *A, *B;             /* (r, in), (out, r) in lo->params */
    float *dA, *dB;           /* the same places in lo->grads */
    float *h;                 /* (max_B·max_T, r): A·x from the last forward */
    float *dh;                /* (max_B·max_T, r): scratch of the backward */
} dl_lora_adapter;

typedef struct dl_lora {
    dl_lora_config cfg;
    int n_adapters;            /* n_layer × popcount(targets) */
    dl_lora_adapter *adapters; /* layer-major, targets in dl_lora_target order */
    size_t n_params;           /* Σ r·(in + out) */
    float *params, *grads;     /* (n_params) each, on the GPT's backend */
    float *acts;               /* the h and dh buffers, on the GPT's backend */
    float *scratch;            /* in acts: (max(max_B·max_T, 4C), r) shared by all adapters */
    float *scale_eye;          /* in acts: (r, r) (α/r)·I: ops->matmul has no scalar factor,
                                  so the scaling is a product with this matrix */
    uint32_t base_crc;         /* CRC-32 of the base parameters (dl_gpt_params_crc) */
    const dl_gpt *model;       /* the GPT it was made for (shapes) */
    const dl_ops *ops;         /* its backend, where params, grads and acts live */
    bool merged;               /* folded into the base by dl_lora_merge (merging twice is an error) */
} dl_lora;

/* Adapters of `cfg` for every layer of m (shapes from m->cfg, buffers for m->max_B ×
 * m->max_T rows on m's backend), A Kaiming-uniform from rng, B = 0. Records m's base CRC. */
dl_status dl_lora_create(dl_lora *lo, const dl_gpt *m, const dl_lora_config *cfg, dl_rng *rng);
void dl_lora_free(dl_lora *lo);

/* The adapter of (layer, target), or NULL if that target is not adapted. */
dl_lora_adapter *dl_lora_find(dl_lora *lo, int layer, dl_lora_target target);

/* Attach lo to m (NULL detaches): m's forward then adds (α/r)·B·A·x to every targeted
 * projection and its backward fills lo->grads. With freeze_base, m's backward computes no
 * gradient for the base parameters (m->grads stays zero) — only what the adapters need —
 * which is what makes a LoRA step cheaper than a full one. DL_ERR_ARG if lo was made for a
 * model of another shape or backend. */
dl_status dl_gpt_attach_lora(dl_gpt *m, dl_lora *lo, bool freeze_base);

/* W0 += (α/r)·B·A for every adapter (and detach it from m): inference at the base's cost.
 * unmerge subtracts the same product (and re-attaches, frozen); merge then unmerge restores
 * W0 to within fp32 rounding. */
dl_status dl_lora_merge(dl_lora *lo, dl_gpt *m);
dl_status dl_lora_unmerge(dl_lora *lo, dl_gpt *m);

/* CRC-32 of the GPT's parameters as stored (host copy), the identity adapters check. */
dl_status dl_gpt_params_crc(const dl_gpt *m, uint32_t *crc);

/* Adapter files. save writes cfg, base CRC, every A and B. load reads one into lo, which
 * must have been created for a model of the same shape; DL_ERR_ARG when the file's base CRC
 * differs from m's current parameters ("adapter for another base model"), its rank or
 * targets differ from lo's, or a tensor is missing; DL_ERR_FORMAT for a corrupt file. */
dl_status dl_lora_save(const dl_lora *lo, const char *path);
dl_status dl_lora_load(dl_lora *lo, const dl_gpt *m, const char *path);

/* Bytes of an adapter file for lo (what dl_lora_save writes), for the lesson's table. */
size_t dl_lora_file_bytes(const dl_lora *lo);

#ifdef __cplusplus
}
#endif
#endif
