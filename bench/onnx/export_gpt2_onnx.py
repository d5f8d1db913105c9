#!/usr/bin/python3
"""Export a GPT-2-shaped model to ONNX with the same weights SharpLens loads, for `compare-onnx` (bench/onnx/README.md).

Two ways:
  export_gpt2_onnx.py --out DIR                  random GPT-2-small-shaped weights (seeded): writes DIR/config.json,
                                                 DIR/model.safetensors (Hugging Face GPT-2 keys) and DIR/model.onnx
  export_gpt2_onnx.py --out DIR --from FOLDER    the weights of a Hugging Face GPT-2 folder (config.json +
                                                 model.safetensors, float32/float16/bfloat16): writes DIR/model.onnx

The graph is GPT-2 as Hugging Face computes it (pre-LayerNorm blocks, fused c_attn, Conv1D weights [in, out],
gelu_new, causal softmax, tied unembedding) written out in plain torch, so neither `transformers` nor `onnx` is
needed: torch 1.13's torch.onnx.export writes the file. Input "input_ids" int64 [batch, pos], output "logits"
float32 [batch, pos, d_vocab], both axes dynamic; opset 17 (LayerNormalization is one operator).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    """name -> float32 torch tensor, parsed by hand (8-byte header length, JSON header, raw little-endian data)."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in DTYPES:
            sys.exit(f"{path}: tensor {name} has dtype {entry['dtype']}; only F32, F16 and BF16 are read")
        begin, end = entry["data_offsets"]
        raw = np.frombuffer(data, dtype=DTYPES[entry["dtype"]], count=(end - begin) // np.dtype(DTYPES[entry["dtype"]]).itemsize,
                            offset=base + begin)
        if entry["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        tensors[name.removeprefix("transformer.")] = torch.from_numpy(raw.astype(np.float32).reshape(entry["shape"]))
    return tensors


def write_safetensors(path, tensors):
    """Writes float32 tensors in the safetensors layout, keys sorted, header padded to 8 bytes."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        blob = tensors[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def random_gpt2(cfg, seed):
    """Hugging Face GPT-2 keys with random values (normal 0.02, LayerNorm weights near 1), deterministic for a seed."""
    g = torch.Generator().manual_seed(seed)
    d, m, v, n = cfg["n_embd"], cfg["n_inner"], cfg["vocab_size"], cfg["n_positions"]

    def normal(*shape, mean=0.0):
        return torch.randn(*shape, generator=g) * 0.02 + mean

    t = {"wte.weight": normal(v, d), "wpe.weight": normal(n, d), "ln_f.weight": normal(d, mean=1.0), "ln_f.bias": normal(d)}
    for layer in range(cfg["n_layer"]):
        p = f"h.{layer}."
        t.update({
            p + "ln_1.weight": normal(d, mean=1.0), p + "ln_1.bias": normal(d),
            p + "attn.c_attn.weight": normal(d, 3 * d), p + "attn.c_attn.bias": normal(3 * d),
            p + "attn.c_proj.weight": normal(d, d), p + "attn.c_proj.bias": normal(d),
            p + "ln_2.weight": normal(d, mean=1.0), p + "ln_2.bias": normal(d),
            p + "mlp.c_fc.weight": normal(d, m), p + "mlp.c_fc.bias": normal(m),
            p + "mlp.c_proj.weight": normal(m, d), p + "mlp.c_proj.bias": normal(d),
        })
    return t


class Gpt2(torch.nn.Module):
    """GPT-2's forward pass (Hugging Face GPT2LMHeadModel) over a dict of its weights."""

    def __init__(self, cfg, weights):
        super().__init__()
        self.n_layer, self.n_head, self.eps = cfg["n_layer"], cfg["n_head"], cfg.get("layer_norm_epsilon", 1e-5)
        self.d = cfg["n_embd"]  # static sizes: the exported graph's only dynamic axes are batch and pos
        self.exact_gelu = cfg.get("activation_function", "gelu_new") == "gelu"
        self.w = torch.nn.ParameterDict({k.replace(".", "_"): torch.nn.Parameter(v, requires_grad=False) for k, v in weights.items()})
        self.unembed = weights.get("lm_head.weight", weights["wte.weight"])
        n = cfg["n_positions"]
        self.register_buffer("causal", torch.tril(torch.ones(n, n, dtype=torch.bool)), persistent=False)

    def p(self, key):
        return self.w[key.replace(".", "_")]

    def layer_norm(self, x, prefix):
        return torch.nn.functional.layer_norm(x, (self.d,), self.p(prefix + ".weight"), self.p(prefix + ".bias"), self.eps)

    def gelu(self, x):
        if self.exact_gelu:
            return torch.nn.functional.gelu(x)
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))

    def forward(self, input_ids):
        batch, pos = input_ids.shape
        x = self.p("wte.weight")[input_ids] + self.p("wpe.weight")[:pos]
        d = self.d
        d_head = d // self.n_head
        mask = self.causal[:pos, :pos]
        for layer in range(self.n_layer):
            h = f"h.{layer}."
            qkv = self.layer_norm(x, h + "ln_1") @ self.p(h + "attn.c_attn.weight") + self.p(h + "attn.c_attn.bias")
            q, k, v = (t.reshape(batch, pos, self.n_head, d_head).transpose(1, 2) for t in qkv.split(d, dim=-1))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(d_head)
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            z = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(batch, pos, d)
            x = x + z @ self.p(h + "attn.c_proj.weight") + self.p(h + "attn.c_proj.bias")
            hidden = self.gelu(self.layer_norm(x, h + "ln_2") @ self.p(h + "mlp.c_fc.weight") + self.p(h + "mlp.c_fc.bias"))
            x = x + hidden @ self.p(h + "mlp.c_proj.weight") + self.p(h + "mlp.c_proj.bias")
        return self.layer_norm(x, "ln_f") @ self.unembed.t()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write model.onnx (and, without --from, the checkpoint) into")
    ap.add_argument("--from", dest="source", help="a Hugging Face GPT-2 folder (config.json + model.safetensors)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights (without --from)")
    ap.add_argument("--layers", type=int, default=12, help="n_layer of the random model (GPT-2 small: 12)")
    ap.add_argument("--d-model", type=int, default=768, help="n_embd of the random model (GPT-2 small: 768)")
    ap.add_argument("--heads", type=int, default=12, help="n_head of the random model (GPT-2 small: 12)")
    ap.add_argument("--vocab", type=int, default=50257, help="vocab_size of the random model (GPT-2: 50257)")
    ap.add_argument("--positions", type=int, default=1024, help="n_positions of the random model (GPT-2: 1024)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    if args.source:
        with open(os.path.join(args.source, "config.json")) as f:
            cfg = json.load(f)
        for key, default in {"n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}.items():
            cfg.setdefault(key, default)
        weights = read_safetensors(os.path.join(args.source, "model.safetensors"))
    else:
        if args.d_model % args.heads:
            sys.exit(f"--d-model {args.d_model} is not a multiple of --heads {args.heads}")
        cfg = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
               "bos_token_id": 50256, "eos_token_id": 50256, "layer_norm_epsilon": 1e-5,
               "n_ctx": args.positions, "n_positions": args.positions, "n_embd": args.d_model, "n_head": args.heads,
               "n_inner": 4 * args.d_model, "n_layer": args.layers, "vocab_size": args.vocab, "torch_dtype": "float32"}
        weights = random_gpt2(cfg, args.seed)
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        write_safetensors(os.path.join(args.out, "model.safetensors"), weights)

    model = Gpt2(cfg, weights).eval()
    example = torch.randint(0, cfg["vocab_size"], (2, 8))
    path = os.path.join(args.out, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (example,), path, input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "pos"}, "logits": {0: "batch", 1: "pos"}},
                          opset_version=17, do_constant_folding=True)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.0f} MB): {cfg['n_layer']} layers, d_model {cfg['n_embd']}, "
          f"{cfg['n_head']} heads, d_vocab {cfg['vocab_size']}, n_ctx {cfg['n_positions']}")


if __name__ == "__main__":
    main()
