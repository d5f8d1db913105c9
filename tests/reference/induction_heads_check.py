"""Independent check of a trained induction model: which heads are previous-token heads and which are induction heads.

Reads a checkpoint folder in Hugging Face GPT-2 layout (config.json + model.safetensors, as `sharplens train` writes
it) with its own safetensors reader, runs its own from-scratch GPT-2 forward in PyTorch (no SharpLens, no
transformers, no TransformerLens), and scores every head on repeated random tokens [BOS, r_1..r_n, r_1..r_n]:

  previous-token score: mean attention from each query q >= 2 to q - 1 (queries whose previous token is not BOS);
  induction score:      mean attention from each query of the second repeat to the token after the earlier copy
                        (q - n + 1), the prefix-matching score of Olsson et al. and TransformerLens' demos.

Usage: /usr/bin/python3 tests/reference/induction_heads_check.py MODEL_DIR [--batch 32] [--period N] [--seed 0]
       [--json] [--expect-previous L0H1[,..]] [--expect-induction L1H3[,..]]
With --expect-*, exits 1 unless the top-scoring heads are exactly the expected ones (the same count).
Needs Debian's /usr/bin/python3 with python3-torch and python3-numpy.
"""
import argparse, json, math, os, struct, sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "F64": np.float64}


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def read_safetensors(path):
    """{name: float32 torch tensor} from a .safetensors file: 8-byte little-endian header length, JSON header, data."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        fail(f"{path}: header of {n} bytes runs past the end of the file")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            fail(f"{path}: tensor {name} has dtype {dtype}; this reader knows {', '.join(DTYPES)}")
        if end > len(data):
            fail(f"{path}: tensor {name} runs past the end of the file")
        buf = data[begin:end]
        if dtype == "BF16":
            bits = np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(buf, dtype=DTYPES[dtype]).astype(np.float32)
        out[name] = torch.from_numpy(values.copy()).reshape(shape)
    return out


def activation(name):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))
    if name == "gelu":
        return lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name == "relu":
        return torch.relu
    fail(f"activation_function {name!r} is not one this check implements (gelu_new, gelu, relu)")


def attention_patterns(weights, cfg, tokens):
    """Every layer's attention pattern [batch, head, query, key] of the GPT-2 forward on tokens [batch, pos]."""
    prefix = "transformer." if "transformer.wte.weight" in weights else ""
    W = lambda k: weights[prefix + k]
    d, H = cfg["n_embd"], cfg["n_head"]
    dh, eps = d // H, cfg.get("layer_norm_epsilon", 1e-5)
    act = activation(cfg.get("activation_function", "gelu_new"))
    B, P = tokens.shape
    x = W("wte.weight")[tokens] + W("wpe.weight")[:P][None]
    mask = torch.tril(torch.ones(P, P, dtype=torch.bool))
    patterns = []
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        h = torch.nn.functional.layer_norm(x, (d,), W(p + "ln_1.weight"), W(p + "ln_1.bias"), eps)
        qkv = h @ W(p + "attn.c_attn.weight") + W(p + "attn.c_attn.bias")          # Conv1D: [d, 3d]
        q, k, v = (t.reshape(B, P, H, dh).transpose(1, 2) for t in qkv.split(d, dim=-1))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        pattern = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        patterns.append(pattern)
        z = (pattern @ v).transpose(1, 2).reshape(B, P, d)
        x = x + z @ W(p + "attn.c_proj.weight") + W(p + "attn.c_proj.bias")
        if prefix + p + "mlp.c_fc.weight" in weights:
            h = torch.nn.functional.layer_norm(x, (d,), W(p + "ln_2.weight"), W(p + "ln_2.bias"), eps)
            x = x + act(h @ W(p + "mlp.c_fc.weight") + W(p + "mlp.c_fc.bias")) @ W(p + "mlp.c_proj.weight") + W(p + "mlp.c_proj.bias")
    return patterns


def head_names(text):
    names = [t.strip().upper() for t in text.split(",") if t.strip()]
    for n in names:
        if not (n.startswith("L") and "H" in n):
            fail(f"head name {n!r}: write heads as L0H1")
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--period", type=int, default=None, help="length of the repeated segment (default: (n_ctx - 1) // 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the scores as JSON")
    ap.add_argument("--expect-previous", default=None)
    ap.add_argument("--expect-induction", default=None)
    args = ap.parse_args()

    cfg_path, st_path = os.path.join(args.model, "config.json"), os.path.join(args.model, "model.safetensors")
    for path in (cfg_path, st_path):
        if not os.path.isfile(path):
            fail(f"{path} does not exist: pass a folder written by `sharplens train`")
    cfg = json.load(open(cfg_path))
    for key in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size"):
        if key not in cfg:
            fail(f"{cfg_path}: missing {key}")
    weights = read_safetensors(st_path)
    bos = cfg.get("bos_token_id", cfg["vocab_size"] - 1)
    period = args.period or (cfg["n_positions"] - 1) // 2
    if 1 + 2 * period > cfg["n_positions"]:
        fail(f"--period {period}: [BOS, r, r] has {1 + 2 * period} tokens, more than n_positions {cfg['n_positions']}")

    torch.manual_seed(args.seed)
    segment = torch.randint(0, cfg["vocab_size"] - 1, (args.batch, period))
    segment = segment + (segment >= bos).long()                                   # never BOS
    tokens = torch.cat([torch.full((args.batch, 1), bos), segment, segment], dim=1)
    with torch.no_grad():
        patterns = attention_patterns(weights, cfg, tokens)
    L, H, P = cfg["n_layer"], cfg["n_head"], tokens.shape[1]
    previous = torch.zeros(L, H)
    induction = torch.zeros(L, H)
    q_prev = torch.arange(2, P)
    q_ind = torch.arange(1 + period, P)
    for l, pattern in enumerate(patterns):
        previous[l] = pattern[:, :, q_prev, q_prev - 1].mean(dim=(0, 2))
        induction[l] = pattern[:, :, q_ind, q_ind - period + 1].mean(dim=(0, 2))

    def ranked(scores):
        flat = [(scores[l, h].item(), f"L{l}H{h}") for l in range(L) for h in range(H)]
        return sorted(flat, key=lambda t: -t[0])

    result = {
        "model": args.model, "period": period, "batch": args.batch, "seed": args.seed,
        "previous_token": previous.tolist(), "induction": induction.tolist(),
        "previous_token_ranking": [n for _, n in ranked(previous)],
        "induction_ranking": [n for _, n in ranked(induction)],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.model}: {args.batch} x [BOS + 2 x {period} random tokens], seed {args.seed}")
        print("head    previous-token  induction")
        for l in range(L):
            for h in range(H):
                print(f"L{l}H{h:<5} {previous[l, h].item():14.3f} {induction[l, h].item():10.3f}")
        print("previous-token heads, best first:", ", ".join(f"{n} {s:.3f}" for s, n in ranked(previous)[:3]))
        print("induction heads, best first:     ", ", ".join(f"{n} {s:.3f}" for s, n in ranked(induction)[:3]))
    ok = True
    for flag, ranking in ((args.expect_previous, result["previous_token_ranking"]), (args.expect_induction, result["induction_ranking"])):
        if flag is None:
            continue
        expected = head_names(flag)
        top = ranking[: len(expected)]
        if sorted(top) != sorted(expected):
            print(f"expected {', '.join(expected)} first, found {', '.join(top)}", file=sys.stderr)
            ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
