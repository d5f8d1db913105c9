"""Tiny random checkpoints in Hugging Face layout, one or two per family, and their config.json files.

Each config.json has the keys transformers writes for that model_type (in the version named by
transformers_version, as the real checkpoints it imitates carry them: Pythia, Llama-2-7b, Llama-3.2-1B,
Mistral-7B-v0.1, Qwen2.5-0.5B, Qwen3-0.6B), written sorted with indent 2 as PretrainedConfig.to_json_file does.
Weights are float32 random numbers rounded to the variant's dtype: norm weights 1 + 0.2 randn, biases 0.1 randn,
matrices randn / sqrt(fan_in), embeddings 0.5 randn.
"""
import math

import torch

# name, seed, stored dtype, sharded, config.json
VARIANTS = []


def variant(name, seed, dtype, config, sharded=False):
    VARIANTS.append(dict(name=name, seed=seed, dtype=dtype, sharded=sharded, config=config))


DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}

# Pythia (transformers 4.24 wrote rotary_pct / rotary_emb_base only), parallel residual, untied embed_out.
variant("neox-parallel", 3001, torch.float32, {
    "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
    "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 64, "model_type": "gpt_neox", "num_attention_heads": 4, "num_hidden_layers": 2,
    "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": False, "transformers_version": "4.24.0",
    "use_cache": True, "use_parallel_residual": True, "vocab_size": 96})

# GPT-NeoX with a sequential residual, as transformers 4.46 writes it (partial_rotary_factor and rope_theta mirror
# rotary_pct and rotary_emb_base), stored in float16.
variant("neox-sequential", 3002, torch.float16, {
    "architectures": ["GPTNeoXForCausalLM"], "attention_bias": True, "attention_dropout": 0.0, "bos_token_id": 0,
    "classifier_dropout": 0.1, "eos_token_id": 0, "hidden_act": "gelu", "hidden_dropout": 0.0, "hidden_size": 32,
    "initializer_range": 0.02, "intermediate_size": 48, "layer_norm_eps": 1e-05, "max_position_embeddings": 64,
    "model_type": "gpt_neox", "num_attention_heads": 4, "num_hidden_layers": 2, "partial_rotary_factor": 0.5,
    "rope_scaling": None, "rope_theta": 10000, "rotary_emb_base": 10000, "rotary_pct": 0.5,
    "tie_word_embeddings": False, "transformers_version": "4.46.0", "use_cache": True,
    "use_parallel_residual": False, "vocab_size": 88})

# Llama-2 (transformers 4.31: no rope_theta key, so the default 10000), multi-head, untied, two shards.
variant("llama2", 3003, torch.float32, {
    "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 40, "max_position_embeddings": 64,
    "model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 4,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "tie_word_embeddings": False,
    "transformers_version": "4.31.0.dev0", "use_cache": True, "vocab_size": 100}, sharded=True)

# Llama-3.2: grouped-query, tied embeddings, explicit head_dim, bfloat16, and llama3 rope scaling with
# original_max_position_embeddings 256 so that the four frequencies (wavelengths 6.3, 167, 4443, 118000 positions)
# fall in all three regimes: kept (< 256/4), smoothed (between), divided by factor (> 256/1).
variant("llama3", 3004, torch.bfloat16, {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 125,
    "eos_token_id": 126, "head_dim": 8, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
    "intermediate_size": 48, "max_position_embeddings": 512, "mlp_bias": False, "model_type": "llama",
    "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                            "original_max_position_embeddings": 256, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": True, "transformers_version": "4.45.0.dev0", "use_cache": True,
    "vocab_size": 128})

# Mistral-7B-v0.1: grouped-query, a sliding window of 4 positions (the prompts have 6), untied, bfloat16.
variant("mistral", 3005, torch.bfloat16, {
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 36, "max_position_embeddings": 64,
    "model_type": "mistral", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4, "tie_word_embeddings": False,
    "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": 90})

# Qwen2.5: q/k/v biases, grouped-query, tied. sliding_window is set (smaller than the prompts) but
# use_sliding_window is false, so no window applies, as in the real configs.
variant("qwen2", 3006, torch.float32, {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 110, "eos_token_id": 110,
    "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 44,
    "max_position_embeddings": 64, "max_window_layers": 2, "model_type": "qwen2", "num_attention_heads": 4,
    "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 4, "tie_word_embeddings": True, "transformers_version": "4.40.1",
    "use_cache": True, "use_mrope": False, "use_sliding_window": False, "vocab_size": 112})

# Qwen3-0.6B: head_dim 12 != hidden_size / heads = 8, q_norm / k_norm, grouped-query, tied, bfloat16.
variant("qwen3", 3007, torch.bfloat16, {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 117,
    "eos_token_id": 119, "head_dim": 12, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
    "intermediate_size": 56, "max_position_embeddings": 64, "max_window_layers": 2, "model_type": "qwen3",
    "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False, "vocab_size": 120})

for _v in VARIANTS:
    _v["config"]["torch_dtype"] = DTYPE_NAMES[_v["dtype"]]


def tensor_specs(c):
    """[(Hugging Face key, shape, kind)] in module order; kind is "embed", "dense", "norm" or "bias"."""
    d, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    f = c["intermediate_size"]
    specs = []
    add = lambda key, shape, kind: specs.append((key, tuple(shape), kind))
    if c["model_type"] == "gpt_neox":
        add("gpt_neox.embed_in.weight", (V, d), "embed")
        for l in range(L):
            p = f"gpt_neox.layers.{l}."
            for norm in ("input_layernorm", "post_attention_layernorm"):
                add(p + norm + ".weight", (d,), "norm")
                add(p + norm + ".bias", (d,), "bias")
            for name, out_features, in_features in (("attention.query_key_value", 3 * d, d), ("attention.dense", d, d),
                                                    ("mlp.dense_h_to_4h", f, d), ("mlp.dense_4h_to_h", d, f)):
                add(p + name + ".weight", (out_features, in_features), "dense")
                add(p + name + ".bias", (out_features,), "bias")
        add("gpt_neox.final_layer_norm.weight", (d,), "norm")
        add("gpt_neox.final_layer_norm.bias", (d,), "bias")
        if not c["tie_word_embeddings"]:
            add("embed_out.weight", (V, d), "dense")
        return specs
    H = c["num_attention_heads"]
    K = c.get("num_key_value_heads") or H
    hd = c.get("head_dim") or d // H
    add("model.embed_tokens.weight", (V, d), "embed")
    for l in range(L):
        p = f"model.layers.{l}."
        add(p + "input_layernorm.weight", (d,), "norm")
        for n, rows in (("q", H), ("k", K), ("v", K)):
            add(p + f"self_attn.{n}_proj.weight", (rows * hd, d), "dense")
            if c["model_type"] == "qwen2":
                add(p + f"self_attn.{n}_proj.bias", (rows * hd,), "bias")
        add(p + "self_attn.o_proj.weight", (d, H * hd), "dense")
        if c["model_type"] == "qwen3":
            add(p + "self_attn.q_norm.weight", (hd,), "norm")
            add(p + "self_attn.k_norm.weight", (hd,), "norm")
        add(p + "post_attention_layernorm.weight", (d,), "norm")
        add(p + "mlp.gate_proj.weight", (f, d), "dense")
        add(p + "mlp.up_proj.weight", (f, d), "dense")
        add(p + "mlp.down_proj.weight", (d, f), "dense")
    add("model.norm.weight", (d,), "norm")
    if not c["tie_word_embeddings"]:
        add("lm_head.weight", (V, d), "dense")
    return specs


def random_tensor(shape, kind, g):
    """float32: norm weights 1 + 0.2 randn, biases 0.1 randn, matrices randn / sqrt(fan_in), embeddings 0.5 randn."""
    t = torch.randn(*shape, generator=g, dtype=torch.float32)
    if kind == "norm":
        return 1.0 + 0.2 * t
    return t * {"embed": 0.5, "bias": 0.1, "dense": 1 / math.sqrt(shape[-1])}[kind]


def make_hf_weights(v):
    """Random weights with Hugging Face key names and nn.Linear [out, in] orientation, rounded to the variant's dtype."""
    g = torch.Generator().manual_seed(v["seed"])
    return {k: random_tensor(shape, kind, g).to(v["dtype"]) for k, shape, kind in tensor_specs(v["config"])}


def shard(hf, max_fraction=0.6):
    """Split the state dict (in module order) as save_pretrained's max_shard_size does, with the limit at
    `max_fraction` of the total bytes: a shard is closed before the tensor that would overflow it. At 0.6 the
    llama2 variant's cut falls inside layer 1. Returns [(file name, {key: tensor})]."""
    limit = max_fraction * sum(t.numel() * t.element_size() for t in hf.values())
    shards, current, size = [], {}, 0
    for k, t in hf.items():
        if current and size + t.numel() * t.element_size() > limit:
            shards.append(current)
            current, size = {}, 0
        current[k] = t
        size += t.numel() * t.element_size()
    shards.append(current)
    return [(f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors", s) for i, s in enumerate(shards)]


def make_tokens(v, batch, seq):
    """clean/corrupted [batch][seq] with BOS (bos_token_id) at position 0, answers [batch][2]; no special ids elsewhere.
    Position 2 differs in every corrupted prompt, position 4 too in prompts 1 and 3."""
    c = v["config"]
    g = torch.Generator().manual_seed(v["seed"] + 7)
    special = {c["bos_token_id"], c["eos_token_id"]}
    ordinary = torch.tensor([i for i in range(c["vocab_size"]) if i not in special])
    pick = lambda *shape: ordinary[torch.randint(0, len(ordinary), shape, generator=g)]
    clean = pick(batch, seq)
    clean[:, 0] = c["bos_token_id"]
    corrupted = clean.clone()
    for i in range(batch):
        for pos in ([2, 4] if i % 2 else [2]):
            while corrupted[i, pos] == clean[i, pos]:
                corrupted[i, pos] = pick(1)[0]
    answers = torch.stack([ordinary[torch.randperm(len(ordinary), generator=g)[:2]] for _ in range(batch)])
    return clean, corrupted, answers
