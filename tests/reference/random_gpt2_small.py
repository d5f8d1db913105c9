#!/usr/bin/python3
"""Writes a random checkpoint shaped like GPT-2 small (config.json + model.safetensors, Hugging Face keys) into
the folder given as the only argument, for timing and memory measurements of commands that need a model folder
(`--model FOLDER`) where the real weights are not at hand. The numbers it gives are meaningless; its costs are
GPT-2 small's. Needs numpy only; about 0.5 GB on disk; deterministic (seed 0)."""
import json
import os
import struct
import sys

import numpy as np

if len(sys.argv) != 2:
    sys.exit("usage: random_gpt2_small.py FOLDER")
folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
rng = np.random.default_rng(0)
n_layer, d, d_mlp, vocab, ctx = 12, 768, 3072, 50257, 1024


def normal(*shape, std=0.02):
    return (rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float32)


def ones(n):
    return (1 + normal(n, std=0.05)).astype(np.float32)


tensors = {"wte.weight": normal(vocab, d), "wpe.weight": normal(ctx, d, std=0.01)}
for layer in range(n_layer):
    p = f"h.{layer}."
    tensors.update({
        p + "ln_1.weight": ones(d), p + "ln_1.bias": normal(d),
        p + "attn.c_attn.weight": normal(d, 3 * d), p + "attn.c_attn.bias": normal(3 * d),
        p + "attn.c_proj.weight": normal(d, d), p + "attn.c_proj.bias": normal(d),
        p + "ln_2.weight": ones(d), p + "ln_2.bias": normal(d),
        p + "mlp.c_fc.weight": normal(d, d_mlp), p + "mlp.c_fc.bias": normal(d_mlp),
        p + "mlp.c_proj.weight": normal(d_mlp, d), p + "mlp.c_proj.bias": normal(d),
    })
tensors.update({"ln_f.weight": ones(d), "ln_f.bias": normal(d)})

header, offset = {}, 0
for name in sorted(tensors):
    size = tensors[name].nbytes
    header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
    offset += size
encoded = json.dumps(header).encode()
encoded += b" " * (-len(encoded) % 8)
with open(os.path.join(folder, "model.safetensors.tmp"), "wb") as f:
    f.write(struct.pack("<Q", len(encoded)))
    f.write(encoded)
    for name in sorted(tensors):
        f.write(tensors[name].tobytes())
os.replace(os.path.join(folder, "model.safetensors.tmp"), os.path.join(folder, "model.safetensors"))
with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump({"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
               "bos_token_id": 50256, "eos_token_id": 50256, "layer_norm_epsilon": 1e-5, "n_ctx": ctx,
               "n_positions": ctx, "n_embd": d, "n_head": 12, "n_inner": None, "n_layer": n_layer,
               "vocab_size": vocab}, f)
print(f"wrote {folder}/config.json and model.safetensors ({offset / 2**20:.0f} MB)")
