"""TransformerLens-layout reference for the Hugging Face families (gpt_neox, llama, mistral, qwen2, qwen3).

Written from TransformerLens' components (abstract_attention.py, grouped_query_attention.py, rms_norm.py,
layer_norm.py, mlps/gated_mlp.py, transformer_block.py), its weight conversions
(pretrained/weight_conversions/{neox,llama,mistral,qwen2,qwen3}.py) and its weight processing
(ProcessWeights.fold_layer_norm / center_writing_weights / center_unembed / fold_value_biases). No SharpLens code.
Everything is float64. See tests/reference/README.md for every naming decision.

`Arch` is the architecture as TransformerLens' config sees it, read from a Hugging Face config.json by `tl_arch`.
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch

from make_fixtures import HookCtx  # {name: fn} hooks and a cache of every hook value

F64 = torch.float64


@dataclass(frozen=True)
class Arch:
    n_layers: int
    d_model: int
    n_heads: int
    n_kv: int  # key/value heads (= n_heads without grouped-query attention)
    d_head: int
    d_mlp: int
    d_vocab: int
    eps: float
    norm: str  # "LN" or "RMS"
    parallel: bool  # attention and MLP both read resid_pre (GPT-NeoX use_parallel_residual)
    gated: bool
    act: str  # "gelu" (exact erf) or "silu"
    rotary_dim: int
    rotary_base: float
    llama3_scaling: Optional[dict]  # rope_scaling of rope_type llama3, else None
    qk_norm: bool
    window: Optional[int]  # sliding window: query q attends keys k with q - window < k <= q

    @property
    def gqa(self):
        return self.n_kv < self.n_heads

    @property
    def kv(self):
        """Prefix of the key/value weight names: TransformerLens' GroupedQueryAttention stores `_W_K`/`_W_V`/`_b_K`/`_b_V`
        with n_key_value_heads rows."""
        return "_" if self.gqa else ""


def tl_arch(c):
    """The architecture from a Hugging Face config.json dict, as TransformerLens' loading_from_pretrained maps it."""
    mt = c["model_type"]
    d, H = c["hidden_size"], c["num_attention_heads"]
    if mt == "gpt_neox":
        d_head = d // H
        pct = c.get("rotary_pct", c.get("partial_rotary_factor", 0.25))
        return Arch(c["num_hidden_layers"], d, H, H, d_head, c["intermediate_size"], c["vocab_size"],
                    c["layer_norm_eps"], "LN", c.get("use_parallel_residual", True), False, c["hidden_act"],
                    int(d_head * pct), float(c.get("rotary_emb_base", c.get("rope_theta", 10000))), None, False, None)
    d_head = c.get("head_dim") or d // H
    scaling = c.get("rope_scaling")
    llama3 = scaling if scaling and scaling.get("rope_type", scaling.get("type")) == "llama3" else None
    if scaling and not llama3:
        raise ValueError(f"unsupported rope_scaling {scaling}")
    if c.get("attention_bias") or c.get("mlp_bias"):
        raise ValueError("attention_bias / mlp_bias are not part of these fixtures (qwen2's q/k/v biases are implied)")
    window = c.get("sliding_window") if mt == "mistral" else None  # qwen2/qwen3 only with use_sliding_window
    if mt in ("qwen2", "qwen3") and c.get("use_sliding_window"):
        raise ValueError("use_sliding_window is not part of these fixtures")
    return Arch(c["num_hidden_layers"], d, H, c.get("num_key_value_heads") or H, d_head, c["intermediate_size"],
                c["vocab_size"], c["rms_norm_eps"], "RMS", False, True, c["hidden_act"], d_head,
                float(c.get("rope_theta", 10000.0)), llama3, mt == "qwen3", window)


# --------------------------------------------------------------------------------------
# Hugging Face checkpoint -> TransformerLens state dict (TL's convert_*_weights)
# --------------------------------------------------------------------------------------
def hf_to_tl(hf, c, a):
    """Raw TransformerLens weights (float64) from Hugging Face tensors (nn.Linear [out, in])."""
    f = {k: v.to(F64) for k, v in hf.items()}
    H, K, dh, d = a.n_heads, a.n_kv, a.d_head, a.d_model
    heads = lambda w, n: w.reshape(n, dh, d).permute(0, 2, 1).contiguous()  # "(n h) m -> n m h"
    W = {}
    if c["model_type"] == "gpt_neox":
        W["embed.W_E"] = f["gpt_neox.embed_in.weight"]
        for l in range(a.n_layers):
            p, b = f"gpt_neox.layers.{l}.", f"blocks.{l}."
            W[b + "ln1.w"], W[b + "ln1.b"] = f[p + "input_layernorm.weight"], f[p + "input_layernorm.bias"]
            qkv = f[p + "attention.query_key_value.weight"].reshape(H, 3, dh, d)  # rows "(i qkv h)"
            qkv_b = f[p + "attention.query_key_value.bias"].reshape(H, 3, dh)
            for j, n in enumerate("QKV"):
                W[b + f"attn.W_{n}"] = qkv[:, j].permute(0, 2, 1).contiguous()
                W[b + f"attn.b_{n}"] = qkv_b[:, j].contiguous()
            W[b + "attn.W_O"] = f[p + "attention.dense.weight"].reshape(d, H, dh).permute(1, 2, 0).contiguous()
            W[b + "attn.b_O"] = f[p + "attention.dense.bias"]
            W[b + "ln2.w"], W[b + "ln2.b"] = f[p + "post_attention_layernorm.weight"], f[p + "post_attention_layernorm.bias"]
            W[b + "mlp.W_in"], W[b + "mlp.b_in"] = f[p + "mlp.dense_h_to_4h.weight"].T.contiguous(), f[p + "mlp.dense_h_to_4h.bias"]
            W[b + "mlp.W_out"], W[b + "mlp.b_out"] = f[p + "mlp.dense_4h_to_h.weight"].T.contiguous(), f[p + "mlp.dense_4h_to_h.bias"]
        W["ln_final.w"], W["ln_final.b"] = f["gpt_neox.final_layer_norm.weight"], f["gpt_neox.final_layer_norm.bias"]
        W["unembed.W_U"] = f["embed_out.weight"].T.contiguous()
    else:
        W["embed.W_E"] = f["model.embed_tokens.weight"]
        kv = a.kv
        for l in range(a.n_layers):
            p, b = f"model.layers.{l}.", f"blocks.{l}."
            W[b + "ln1.w"] = f[p + "input_layernorm.weight"]
            for n, proj, rows in (("Q", "q_proj", H), ("K", "k_proj", K), ("V", "v_proj", K)):
                name = b + f"attn.{'' if n == 'Q' else kv}"
                W[name + f"W_{n}"] = heads(f[p + f"self_attn.{proj}.weight"], rows)
                bias = f.get(p + f"self_attn.{proj}.bias")
                W[name + f"b_{n}"] = bias.reshape(rows, dh) if bias is not None else torch.zeros(rows, dh, dtype=F64)
            W[b + "attn.W_O"] = f[p + "self_attn.o_proj.weight"].reshape(d, H, dh).permute(1, 2, 0).contiguous()
            W[b + "attn.b_O"] = torch.zeros(d, dtype=F64)
            if a.qk_norm:
                W[b + "attn.q_norm.w"] = f[p + "self_attn.q_norm.weight"]
                W[b + "attn.k_norm.w"] = f[p + "self_attn.k_norm.weight"]
            W[b + "ln2.w"] = f[p + "post_attention_layernorm.weight"]
            W[b + "mlp.W_in"] = f[p + "mlp.up_proj.weight"].T.contiguous()
            W[b + "mlp.W_gate"] = f[p + "mlp.gate_proj.weight"].T.contiguous()
            W[b + "mlp.b_in"] = torch.zeros(a.d_mlp, dtype=F64)
            W[b + "mlp.W_out"] = f[p + "mlp.down_proj.weight"].T.contiguous()
            W[b + "mlp.b_out"] = torch.zeros(d, dtype=F64)
        W["ln_final.w"] = f["model.norm.weight"]
        tied = "lm_head.weight" not in f
        W["unembed.W_U"] = (f["model.embed_tokens.weight"] if tied else f["lm_head.weight"]).T.contiguous()
    W["unembed.b_U"] = torch.zeros(a.d_vocab, dtype=F64)
    return W


# --------------------------------------------------------------------------------------
# TransformerLens weight processing (from_pretrained defaults: fold_ln, center_writing_weights, center_unembed,
# fold_value_biases), as ProcessWeights does it per normalization type.
# --------------------------------------------------------------------------------------
def process_weights(W, a):
    W = {k: v.clone() for k, v in W.items()}
    ln = a.norm == "LN"  # LN: fold biases and centre; RMS: fold the weights only
    kv = a.kv
    reading = lambda b: [b + "attn.W_Q", b + f"attn.{kv}W_K", b + f"attn.{kv}W_V"]
    bias_of = lambda name: name.replace("W_", "b_")
    for l in range(a.n_layers):
        b = f"blocks.{l}."
        w1 = W.pop(b + "ln1.w")
        b1 = W.pop(b + "ln1.b") if ln else None
        for name in reading(b):
            if ln:
                W[bias_of(name)] = W[bias_of(name)] + (W[name] * b1[None, :, None]).sum(-2)
            W[name] = W[name] * w1[None, :, None]
            if ln:
                W[name] = W[name] - W[name].mean(-2, keepdim=True)
        w2 = W.pop(b + "ln2.w")
        if ln:
            W[b + "mlp.b_in"] = W[b + "mlp.b_in"] + (W[b + "mlp.W_in"] * W.pop(b + "ln2.b")[:, None]).sum(-2)
        W[b + "mlp.W_in"] = W[b + "mlp.W_in"] * w2[:, None]
        if a.gated:
            W[b + "mlp.W_gate"] = W[b + "mlp.W_gate"] * w2[:, None]
        if ln:
            W[b + "mlp.W_in"] = W[b + "mlp.W_in"] - W[b + "mlp.W_in"].mean(-2, keepdim=True)
    if ln:
        W["unembed.b_U"] = W["unembed.b_U"] + (W["unembed.W_U"] * W.pop("ln_final.b")[:, None]).sum(-2)
    W["unembed.W_U"] = W["unembed.W_U"] * W.pop("ln_final.w")[:, None]
    if ln:
        W["unembed.W_U"] = W["unembed.W_U"] - W["unembed.W_U"].mean(-2, keepdim=True)
        # center_writing_weights (LN only; rotary models have no W_pos)
        W["embed.W_E"] = W["embed.W_E"] - W["embed.W_E"].mean(-1, keepdim=True)
        for l in range(a.n_layers):
            b = f"blocks.{l}."
            for k in ("attn.W_O", "mlp.W_out"):
                W[b + k] = W[b + k] - W[b + k].mean(-1, keepdim=True)
            for k in ("attn.b_O", "mlp.b_out"):
                W[b + k] = W[b + k] - W[b + k].mean()
    # center_unembed
    W["unembed.W_U"] = W["unembed.W_U"] - W["unembed.W_U"].mean(-1, keepdim=True)
    W["unembed.b_U"] = W["unembed.b_U"] - W["unembed.b_U"].mean()
    # fold_value_biases (grouped-query b_V repeated to every query head of its group)
    for l in range(a.n_layers):
        b = f"blocks.{l}.attn."
        b_V = W[b + f"{kv}b_V"].repeat_interleave(a.n_heads // a.n_kv, dim=0)
        W[b + "b_O"] = W[b + "b_O"] + (b_V[:, :, None] * W[b + "W_O"]).sum([0, 1])
        W[b + f"{kv}b_V"] = torch.zeros_like(W[b + f"{kv}b_V"])
    return W


# --------------------------------------------------------------------------------------
# Hooked forward. `hooks`: {name: fn(x) -> x}; `cache`: filled with every hook value (after its hook ran).
# --------------------------------------------------------------------------------------
def norm(x, name, W, a, hk):
    """TL LayerNorm / LayerNormPre / RMSNorm / RMSNormPre (the Pre forms when the weights are folded).
    LayerNorm's hook_normalized is after w and b; RMSNorm's is before w (as in TransformerLens)."""
    w, b = W.get(name + ".w"), W.get(name + ".b")
    if a.norm == "LN":
        x = x - x.mean(-1, keepdim=True)
    scale = hk(name + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + a.eps).sqrt())
    x = x / scale
    if a.norm == "LN":
        return hk(name + ".hook_normalized", x * w + b if w is not None else x)
    x = hk(name + ".hook_normalized", x)
    return x * w if w is not None else x


def rotary_inv_freq(a):
    """TL calculate_sin_cos_rotary: freq = base^(i / (rotary_dim/2)), or Llama-3.1 NTK-by-parts (use_NTK_by_parts_rope)."""
    rd = a.rotary_dim
    if a.llama3_scaling is None:
        return 1.0 / a.rotary_base ** (torch.arange(rd // 2, dtype=F64) / (rd / 2))
    s = a.llama3_scaling
    inv_freq = 1.0 / a.rotary_base ** (torch.arange(0, rd, 2, dtype=F64) / rd)
    factor, lo, hi, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > old / lo, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < old / hi) & ~(wavelen > old / lo)
    return torch.where(medium, smoothed, scaled)


def apply_rotary(x, a):
    """Rotate the first rotary_dim dims of [batch, pos, heads, d_head], GPT-NeoX pairing (i, i + rotary_dim/2)."""
    rd, P = a.rotary_dim, x.shape[1]
    angles = torch.arange(P, dtype=F64)[:, None] * rotary_inv_freq(a).repeat(2)[None, :]  # [pos, rd]
    cos, sin = angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]
    x_rot, x_pass = x[..., :rd], x[..., rd:]
    n = rd // 2
    flipped = torch.cat([-x_rot[..., n:], x_rot[..., :n]], dim=-1)
    return torch.cat([x_rot * cos + flipped * sin, x_pass], dim=-1)


def attention_mask(P, window):
    mask = torch.ones(P, P, dtype=torch.bool).tril()
    if window is not None:
        mask = mask.triu(1 - window)  # TL local attention / HF sliding_window_overlay: q - window < k
    return mask


def attention(x, W, l, a, hk):
    p = f"blocks.{l}.attn."
    kv = a.kv
    q = hk(p + "hook_q", torch.einsum("bpd,hde->bphe", x, W[p + "W_Q"]) + W[p + "b_Q"])
    k = hk(p + "hook_k", torch.einsum("bpd,hde->bphe", x, W[p + f"{kv}W_K"]) + W[p + f"{kv}b_K"])
    v = hk(p + "hook_v", torch.einsum("bpd,hde->bphe", x, W[p + f"{kv}W_V"]) + W[p + f"{kv}b_V"])
    if a.qk_norm:  # RMSNorm over d_head per head (TL flattens to [batch*pos*heads, d_head]; same order)
        q = norm_rms_head(q, p + "q_norm", W, a, hk)
        k = norm_rms_head(k, p + "k_norm", W, a, hk)
    q = hk(p + "hook_rot_q", apply_rotary(q, a))
    k = hk(p + "hook_rot_k", apply_rotary(k, a))
    rep = a.n_heads // a.n_kv
    k, v = k.repeat_interleave(rep, dim=2), v.repeat_interleave(rep, dim=2)
    P = q.shape[1]
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(a.d_head)
    scores = hk(p + "hook_attn_scores", torch.where(attention_mask(P, a.window), scores,
                                                    torch.tensor(float("-inf"), dtype=F64)))
    pattern = scores.softmax(-1)
    pattern = hk(p + "hook_pattern", torch.where(torch.isnan(pattern), torch.zeros_like(pattern), pattern))
    z = hk(p + "hook_z", torch.einsum("bkhe,bhqk->bqhe", v, pattern))
    result = hk(p + "hook_result", torch.einsum("bqhe,hed->bqhd", z, W[p + "W_O"]))
    return result.sum(-2) + W[p + "b_O"]


def norm_rms_head(x, name, W, a, hk):
    scale = hk(name + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + a.eps).sqrt())
    return hk(name + ".hook_normalized", x / scale) * W[name + ".w"]


def activation(x, act):
    if act == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if act == "silu":
        return x * torch.sigmoid(x)
    raise ValueError(f"unsupported activation {act}")


def mlp(x, W, l, a, hk):
    m = f"blocks.{l}.mlp."
    if not a.gated:
        pre = hk(m + "hook_pre", x @ W[m + "W_in"] + W[m + "b_in"])
        post = hk(m + "hook_post", activation(pre, a.act))
    else:  # TL GatedMLP: post = act(x W_gate) * (x W_in) + b_in
        pre = hk(m + "hook_pre", x @ W[m + "W_gate"])
        pre_linear = hk(m + "hook_pre_linear", x @ W[m + "W_in"])
        post = hk(m + "hook_post", activation(pre, a.act) * pre_linear + W[m + "b_in"])
    return post @ W[m + "W_out"] + W[m + "b_out"]


def block(resid, W, l, a, hk):
    b = f"blocks.{l}."
    resid_pre = hk(b + "hook_resid_pre", resid)
    attn_out = hk(b + "hook_attn_out", attention(norm(resid_pre, b + "ln1", W, a, hk), W, l, a, hk))
    if a.parallel:  # no hook_resid_mid: both branches read resid_pre
        mlp_out = hk(b + "hook_mlp_out", mlp(norm(resid_pre, b + "ln2", W, a, hk), W, l, a, hk))
        return hk(b + "hook_resid_post", resid_pre + attn_out + mlp_out)
    resid_mid = hk(b + "hook_resid_mid", resid_pre + attn_out)
    mlp_out = hk(b + "hook_mlp_out", mlp(norm(resid_mid, b + "ln2", W, a, hk), W, l, a, hk))
    return hk(b + "hook_resid_post", resid_mid + mlp_out)


def forward(W, a, tokens, hooks=None, cache=None):
    """Logits [batch, pos, d_vocab]; no hook_pos_embed (rotary)."""
    hk = HookCtx(hooks, cache)
    resid = hk("hook_embed", W["embed.W_E"][tokens])
    for l in range(a.n_layers):
        resid = block(resid, W, l, a, hk)
    x = norm(resid, "ln_final", W, a, hk)
    logits = x @ W["unembed.W_U"] + W["unembed.b_U"]
    if cache is not None:
        cache["logits"] = logits
    return logits


def hook_names(a):
    """Every hook point in TransformerLens' execution order."""
    names = ["hook_embed"]
    for l in range(a.n_layers):
        b = f"blocks.{l}."
        names += [b + "hook_resid_pre", b + "ln1.hook_scale", b + "ln1.hook_normalized",
                  b + "attn.hook_q", b + "attn.hook_k", b + "attn.hook_v"]
        if a.qk_norm:
            names += [b + f"attn.{n}_norm.hook_{h}" for n in "qk" for h in ("scale", "normalized")]
        names += [b + f"attn.hook_{h}" for h in ("rot_q", "rot_k", "attn_scores", "pattern", "z", "result")]
        names += [b + "hook_attn_out"] + ([] if a.parallel else [b + "hook_resid_mid"])
        names += [b + "ln2.hook_scale", b + "ln2.hook_normalized", b + "mlp.hook_pre"]
        names += ([b + "mlp.hook_pre_linear"] if a.gated else []) + [b + "mlp.hook_post", b + "hook_mlp_out",
                                                                      b + "hook_resid_post"]
    return names + ["ln_final.hook_scale", "ln_final.hook_normalized"]
