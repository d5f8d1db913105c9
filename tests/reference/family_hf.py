"""Hugging Face-layout forward passes, written from transformers' modeling files (modeling_gpt_neox.py,
modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_qwen3.py, modeling_rope_utils.py,
masking_utils.py): HF key names, nn.Linear weights [out, in], attention in [batch, heads, seq, head_dim], rotary by
rotate_half, grouped-query keys by repeat_kv, an additive causal (or sliding-window) mask. float64, no hooks.

It reads config.json with transformers' defaults and never uses the TransformerLens-layout code in family_tl.py:
make_family_fixtures.py compares the two and stops if they differ.
"""
import math

import torch

F64 = torch.float64


def linear(x, W, name, bias=True):
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if bias and name + ".bias" in W else y


def layer_norm(x, W, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]


def rms_norm(x, W, name, eps):
    """LlamaRMSNorm / Qwen3RMSNorm: weight * x * rsqrt(mean(x^2) + eps)."""
    return W[name + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def inv_freq(c, head_dim):
    """modeling_rope_utils: _compute_default_rope_parameters, and _compute_llama3_parameters for rope_type llama3."""
    if c["model_type"] == "gpt_neox":
        base, factor = c.get("rotary_emb_base", c.get("rope_theta", 10000)), c.get("rotary_pct", 0.25)
    else:
        base, factor = c.get("rope_theta", 10000.0), 1.0
    dim = int(head_dim * factor)
    freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=F64) / dim))
    scaling = c.get("rope_scaling")
    if not scaling:
        return freq
    assert scaling.get("rope_type", scaling.get("type")) == "llama3", scaling
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_context_len / low, old_context_len / high
    wavelen = 2 * math.pi / freq
    freq_llama = torch.where(wavelen > low_freq_wavelen, freq / factor, freq)
    smooth_factor = (old_context_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth_factor) * freq_llama / factor + smooth_factor * freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, freq_llama)


def rotary_cos_sin(c, head_dim, seq):
    freqs = torch.arange(seq, dtype=F64)[:, None] * inv_freq(c, head_dim)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()  # [seq, rotary_dim]


def apply_rotary_pos_emb(q, k, cos, sin):
    """Rotates the first cos.shape[-1] dims (all of them except GPT-NeoX's partial rotary)."""
    rd = cos.shape[-1]
    rot = lambda t: torch.cat([t[..., :rd] * cos + rotate_half(t[..., :rd]) * sin, t[..., rd:]], dim=-1)
    return rot(q), rot(k)


def causal_mask(seq, sliding_window=None):
    """masking_utils: causal_mask_function (kv <= q) and sliding_window_overlay (kv > q - window); additive."""
    q, kv = torch.arange(seq)[:, None], torch.arange(seq)[None, :]
    allowed = kv <= q
    if sliding_window is not None:
        allowed &= kv > q - sliding_window
    return torch.where(allowed, torch.tensor(0.0, dtype=F64), torch.tensor(float("-inf"), dtype=F64))


def eager_attention(query, key, value, mask, scaling):
    weights = torch.softmax(query @ key.transpose(2, 3) * scaling + mask, dim=-1)
    return (weights @ value).transpose(1, 2).contiguous()  # [batch, seq, heads, head_dim]


def repeat_kv(x, n_rep):
    b, kv, s, dh = x.shape
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, dh).reshape(b, kv * n_rep, s, dh)


def gpt_neox_forward(c, W, input_ids):
    """GPTNeoXForCausalLM: fused query_key_value with rows (head, q/k/v, head_size), partial rotary, parallel or
    sequential residual, LayerNorms, untied embed_out."""
    B, S = input_ids.shape
    H, eps = c["num_attention_heads"], c["layer_norm_eps"]
    hs = c["hidden_size"] // H
    cos, sin = rotary_cos_sin(c, hs, S)
    mask = causal_mask(S)
    act = lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))  # ACT2FN["gelu"]
    assert c["hidden_act"] == "gelu"
    h = W["gpt_neox.embed_in.weight"][input_ids]
    states = [h]
    for l in range(c["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        x = layer_norm(h, W, p + "input_layernorm", eps)
        qkv = linear(x, W, p + "attention.query_key_value").view(B, S, H, 3 * hs).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        attn = linear(eager_attention(q, k, v, mask, hs ** -0.5).reshape(B, S, -1), W, p + "attention.dense")
        mlp = lambda y: linear(act(linear(y, W, p + "mlp.dense_h_to_4h")), W, p + "mlp.dense_4h_to_h")
        if c.get("use_parallel_residual", True):
            h = mlp(layer_norm(h, W, p + "post_attention_layernorm", eps)) + attn + h
        else:
            attn = attn + h
            h = mlp(layer_norm(attn, W, p + "post_attention_layernorm", eps)) + attn
        states.append(h)
    h = layer_norm(h, W, "gpt_neox.final_layer_norm", eps)
    unembed = W["gpt_neox.embed_in.weight"] if c.get("tie_word_embeddings", False) else W["embed_out.weight"]
    return h @ unembed.T, states


def llama_like_forward(c, W, input_ids):
    """LlamaForCausalLM and its relatives: MistralForCausalLM (sliding_window mask), Qwen2ForCausalLM (q/k/v biases;
    sliding window only with use_sliding_window), Qwen3ForCausalLM (q_norm/k_norm over head_dim before rotary)."""
    B, S = input_ids.shape
    mt = c["model_type"]
    H, eps = c["num_attention_heads"], c["rms_norm_eps"]
    K = c.get("num_key_value_heads") or H
    hd = c.get("head_dim") or c["hidden_size"] // H
    cos, sin = rotary_cos_sin(c, hd, S)
    window = c.get("sliding_window") if mt == "mistral" or c.get("use_sliding_window") else None
    mask = causal_mask(S, window)
    assert c["hidden_act"] == "silu"
    attn_bias = mt == "qwen2" or c.get("attention_bias", False)
    h = W["model.embed_tokens.weight"][input_ids]
    states = [h]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        x = rms_norm(h, W, p + "input_layernorm", eps)
        q = linear(x, W, p + "self_attn.q_proj", attn_bias).view(B, S, H, hd)
        k = linear(x, W, p + "self_attn.k_proj", attn_bias).view(B, S, K, hd)
        v = linear(x, W, p + "self_attn.v_proj", attn_bias).view(B, S, K, hd).transpose(1, 2)
        if mt == "qwen3":
            q, k = rms_norm(q, W, p + "self_attn.q_norm", eps), rms_norm(k, W, p + "self_attn.k_norm", eps)
        q, k = apply_rotary_pos_emb(q.transpose(1, 2), k.transpose(1, 2), cos, sin)
        o = eager_attention(q, repeat_kv(k, H // K), repeat_kv(v, H // K), mask, hd ** -0.5)
        h = h + linear(o.reshape(B, S, -1), W, p + "self_attn.o_proj", c.get("attention_bias", False))
        x = rms_norm(h, W, p + "post_attention_layernorm", eps)
        gate = linear(x, W, p + "mlp.gate_proj", False)
        h = h + linear(gate * torch.sigmoid(gate) * linear(x, W, p + "mlp.up_proj", False), W, p + "mlp.down_proj", False)
        states.append(h)
    h = rms_norm(h, W, "model.norm", eps)
    unembed = W["model.embed_tokens.weight"] if c.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return h @ unembed.T, states


def hf_forward(config, hf_weights, input_ids):
    """(logits [batch, seq, vocab], hidden states [embeddings, after layer 0, ...]) of a Hugging Face checkpoint."""
    W = {k: v.to(F64) for k, v in hf_weights.items()}
    if config["model_type"] == "gpt_neox":
        return gpt_neox_forward(config, W, input_ids)
    if config["model_type"] in ("llama", "mistral", "qwen2", "qwen3"):
        return llama_like_forward(config, W, input_ids)
    raise ValueError(config["model_type"])
