#!/usr/bin/env python3
"""Independent PyTorch reference for SharpLens: writes golden GPT-2 fixtures.

Run (Debian python with python3-torch / python3-numpy):

    /usr/bin/python3 tests/reference/make_fixtures.py

For each tiny random GPT-2 it writes tests/SharpLens.Tests/fixtures/<name>/:
  config.json, model.safetensors (Hugging Face layout), tokens.json,
  golden_raw.safetensors (unprocessed weights, and the parameter gradients of the LM loss),
  golden_processed.safetensors
  (TransformerLens from_pretrained default processing, plus processed weights,
  gradients for attribution patching, corrupted activations and exact
  activation-patching results).

Everything is computed in float64 and stored as float32. The model code below
is written from scratch (nanoGPT style) and mirrors TransformerLens hook names
and semantics; it does not depend on any SharpLens (C#) code.
Output is deterministic: re-running produces byte-identical files.
"""
import hashlib
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)  # deterministic reductions

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "tests" / "SharpLens.Tests" / "fixtures"
F64 = torch.float64
EPS = 1e-5

MODELS = [
    dict(name="tiny-a", seed=1001, n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=96, dtype=torch.float32),
    dict(name="tiny-b", seed=2002, n_layer=3, n_head=3, n_embd=48, n_positions=24, vocab_size=120, dtype=torch.float32),
    dict(name="tiny-a-f16", seed=1001, n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=96, dtype=torch.float16),
    dict(name="tiny-a-bf16", seed=1001, n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=96, dtype=torch.bfloat16),
]
BATCH, SEQ = 4, 7

# --------------------------------------------------------------------------------------
# safetensors (written by hand: u64 LE header length, JSON header, raw LE bytes)
# --------------------------------------------------------------------------------------
_ST = {
    torch.float32: ("F32", torch.int32, "<i4"),
    torch.float16: ("F16", torch.int16, "<i2"),
    torch.bfloat16: ("BF16", torch.int16, "<i2"),
}
_ST_BACK = {"F32": (torch.float32, torch.int32, "<i4"), "F16": (torch.float16, torch.int16, "<i2"),
            "BF16": (torch.bfloat16, torch.int16, "<i2")}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        tag, as_int, np_int = _ST[t.dtype]
        raw = t.view(as_int).numpy().astype(np_int).tobytes()
        header[name] = {"dtype": tag, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dt, as_int, np_int = _ST_BACK[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + b:8 + n + e], dtype=np_int).copy()
        out[name] = torch.from_numpy(arr).view(dt).reshape(info["shape"])
    return out


# --------------------------------------------------------------------------------------
# Random Hugging Face GPT-2 checkpoint
# --------------------------------------------------------------------------------------
def make_hf_weights(cfg):
    g = torch.Generator().manual_seed(cfg["seed"])
    d, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]

    def randn(*shape, std):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std

    def ln_w():
        return 1.0 + randn(d, std=0.2)

    w = {"transformer.wte.weight": randn(V, d, std=0.5), "transformer.wpe.weight": randn(P, d, std=0.3)}
    for l in range(L):
        p = f"transformer.h.{l}."
        w[p + "ln_1.weight"] = ln_w()
        w[p + "ln_1.bias"] = randn(d, std=0.1)
        w[p + "attn.c_attn.weight"] = randn(d, 3 * d, std=1 / math.sqrt(d))
        w[p + "attn.c_attn.bias"] = randn(3 * d, std=0.1)
        w[p + "attn.c_proj.weight"] = randn(d, d, std=1 / math.sqrt(d))
        w[p + "attn.c_proj.bias"] = randn(d, std=0.1)
        w[p + "ln_2.weight"] = ln_w()
        w[p + "ln_2.bias"] = randn(d, std=0.1)
        w[p + "mlp.c_fc.weight"] = randn(d, 4 * d, std=1 / math.sqrt(d))
        w[p + "mlp.c_fc.bias"] = randn(4 * d, std=0.1)
        w[p + "mlp.c_proj.weight"] = randn(4 * d, d, std=1 / math.sqrt(4 * d))
        w[p + "mlp.c_proj.bias"] = randn(d, std=0.1)
    w["transformer.ln_f.weight"] = ln_w()
    w["transformer.ln_f.bias"] = randn(d, std=0.1)
    return {k: v.to(cfg["dtype"]) for k, v in w.items()}


def make_tokens(cfg):
    g = torch.Generator().manual_seed(cfg["seed"] + 7)
    V = cfg["vocab_size"]
    bos = V - 1
    clean = torch.randint(0, V - 1, (BATCH, SEQ), generator=g)
    clean[:, 0] = bos
    corrupted = clean.clone()
    for i in range(BATCH):
        # position 2 always changes; prompts 1 and 3 also change position 4
        for pos in ([2, 4] if i % 2 else [2]):
            corrupted[i, pos] = (clean[i, pos] + 1 + torch.randint(0, V - 2, (1,), generator=g)) % (V - 1)
    answers = []
    for i in range(BATCH):
        a0, a1 = torch.randperm(V - 1, generator=g)[:2].tolist()
        answers.append([a0, a1])
    assert (clean != corrupted).any(dim=1).all() and (clean[:, :2] == corrupted[:, :2]).all()
    assert (clean[:, 2] != corrupted[:, 2]).all() and (corrupted < V - 1)[:, 1:].all()
    return clean, corrupted, torch.tensor(answers)


# --------------------------------------------------------------------------------------
# HF -> TransformerLens weight names/shapes (TL's convert_gpt2_weights)
# --------------------------------------------------------------------------------------
def hf_to_tl(hf, cfg):
    d, H, L, V = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["vocab_size"]
    dh = d // H
    f = {k: v.to(F64) for k, v in hf.items()}
    W = {"embed.W_E": f["transformer.wte.weight"], "pos_embed.W_pos": f["transformer.wpe.weight"]}
    for l in range(L):
        p, b = f"transformer.h.{l}.", f"blocks.{l}."
        W[b + "ln1.w"], W[b + "ln1.b"] = f[p + "ln_1.weight"], f[p + "ln_1.bias"]
        Wq, Wk, Wv = f[p + "attn.c_attn.weight"].split(d, dim=1)  # each [d, d], columns = (head, d_head)
        for n, m in zip("QKV", (Wq, Wk, Wv)):
            W[b + f"attn.W_{n}"] = m.reshape(d, H, dh).permute(1, 0, 2).contiguous()  # [H, d, dh]
        bq, bk, bv = f[p + "attn.c_attn.bias"].reshape(3, H, dh)
        W[b + "attn.b_Q"], W[b + "attn.b_K"], W[b + "attn.b_V"] = bq, bk, bv
        W[b + "attn.W_O"] = f[p + "attn.c_proj.weight"].reshape(H, dh, d)  # rows = (head, d_head)
        W[b + "attn.b_O"] = f[p + "attn.c_proj.bias"]
        W[b + "ln2.w"], W[b + "ln2.b"] = f[p + "ln_2.weight"], f[p + "ln_2.bias"]
        W[b + "mlp.W_in"], W[b + "mlp.b_in"] = f[p + "mlp.c_fc.weight"], f[p + "mlp.c_fc.bias"]
        W[b + "mlp.W_out"], W[b + "mlp.b_out"] = f[p + "mlp.c_proj.weight"], f[p + "mlp.c_proj.bias"]
    W["ln_final.w"], W["ln_final.b"] = f["transformer.ln_f.weight"], f["transformer.ln_f.bias"]
    W["unembed.W_U"] = f["transformer.wte.weight"].T.clone()  # tied
    W["unembed.b_U"] = torch.zeros(V, dtype=F64)
    return W


# --------------------------------------------------------------------------------------
# TransformerLens weight processing (from_pretrained defaults)
# --------------------------------------------------------------------------------------
def process_weights(W, cfg):
    W = {k: v.clone() for k, v in W.items()}
    L = cfg["n_layer"]
    # fold_ln (fold_biases=True, center_weights=True)
    for l in range(L):
        b = f"blocks.{l}."
        w1, b1 = W.pop(b + "ln1.w"), W.pop(b + "ln1.b")
        for n in "QKV":
            Wm = W[b + f"attn.W_{n}"]  # [H, d, dh]
            W[b + f"attn.b_{n}"] = W[b + f"attn.b_{n}"] + (Wm * b1[None, :, None]).sum(-2)
            Wm = Wm * w1[None, :, None]
            W[b + f"attn.W_{n}"] = Wm - Wm.mean(-2, keepdim=True)
        w2, b2 = W.pop(b + "ln2.w"), W.pop(b + "ln2.b")
        Wi = W[b + "mlp.W_in"]  # [d, d_mlp]
        W[b + "mlp.b_in"] = W[b + "mlp.b_in"] + (Wi * b2[:, None]).sum(-2)
        Wi = Wi * w2[:, None]
        W[b + "mlp.W_in"] = Wi - Wi.mean(-2, keepdim=True)
    wf, bf = W.pop("ln_final.w"), W.pop("ln_final.b")
    WU = W["unembed.W_U"]  # [d, V]
    W["unembed.b_U"] = W["unembed.b_U"] + (WU * bf[:, None]).sum(-2)
    WU = WU * wf[:, None]
    W["unembed.W_U"] = WU - WU.mean(-2, keepdim=True)
    # center_writing_weights
    W["embed.W_E"] = W["embed.W_E"] - W["embed.W_E"].mean(-1, keepdim=True)
    W["pos_embed.W_pos"] = W["pos_embed.W_pos"] - W["pos_embed.W_pos"].mean(-1, keepdim=True)
    for l in range(L):
        b = f"blocks.{l}."
        for k in ("attn.W_O", "mlp.W_out"):
            W[b + k] = W[b + k] - W[b + k].mean(-1, keepdim=True)
        for k in ("attn.b_O", "mlp.b_out"):
            W[b + k] = W[b + k] - W[b + k].mean()
    # center_unembed
    W["unembed.W_U"] = W["unembed.W_U"] - W["unembed.W_U"].mean(-1, keepdim=True)
    W["unembed.b_U"] = W["unembed.b_U"] - W["unembed.b_U"].mean()
    # fold_value_biases
    for l in range(L):
        b = f"blocks.{l}.attn."
        W[b + "b_O"] = W[b + "b_O"] + (W[b + "b_V"][:, :, None] * W[b + "W_O"]).sum([0, 1])
        W[b + "b_V"] = torch.zeros_like(W[b + "b_V"])
    return W


# --------------------------------------------------------------------------------------
# Model (TransformerLens hook names). `hooks`: {name: fn(x) -> x}; `cache`: dict filled
# with every hook-point value (after the hook fn ran).
# --------------------------------------------------------------------------------------
class HookCtx:
    def __init__(self, hooks=None, cache=None):
        self.hooks, self.cache = hooks or {}, cache

    def __call__(self, name, x):
        if name in self.hooks:
            x = self.hooks[name](x)
        if self.cache is not None:
            self.cache[name] = x
        return x


def layer_norm(x, w, b, name, hk):
    """TL LayerNorm (w, b given) or LayerNormPre (w is None)."""
    x = x - x.mean(-1, keepdim=True)
    scale = hk(name + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + EPS).sqrt())
    x = x / scale
    if w is not None:
        x = x * w + b
    return hk(name + ".hook_normalized", x)


def attention(x, W, l, hk):
    a = f"blocks.{l}.attn."
    q = hk(a + "hook_q", torch.einsum("bpd,hde->bphe", x, W[a + "W_Q"]) + W[a + "b_Q"])
    k = hk(a + "hook_k", torch.einsum("bpd,hde->bphe", x, W[a + "W_K"]) + W[a + "b_K"])
    v = hk(a + "hook_v", torch.einsum("bpd,hde->bphe", x, W[a + "W_V"]) + W[a + "b_V"])
    d_head, P = q.shape[-1], q.shape[1]
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(d_head)
    causal = torch.ones(P, P, dtype=torch.bool).tril()
    scores = hk(a + "hook_attn_scores", torch.where(causal, scores, torch.tensor(float("-inf"), dtype=scores.dtype)))
    pattern = scores.softmax(-1)
    pattern = hk(a + "hook_pattern", torch.where(torch.isnan(pattern), torch.zeros_like(pattern), pattern))
    z = hk(a + "hook_z", torch.einsum("bkhe,bhqk->bqhe", v, pattern))
    result = hk(a + "hook_result", torch.einsum("bqhe,hed->bqhd", z, W[a + "W_O"]))
    return result.sum(-2) + W[a + "b_O"]


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def mlp(x, W, l, hk):
    m = f"blocks.{l}.mlp."
    pre = hk(m + "hook_pre", x @ W[m + "W_in"] + W[m + "b_in"])
    post = hk(m + "hook_post", gelu_new(pre))
    return post @ W[m + "W_out"] + W[m + "b_out"]


def block(resid, W, l, hk):
    b = f"blocks.{l}."
    resid_pre = hk(b + "hook_resid_pre", resid)
    x = layer_norm(resid_pre, W.get(b + "ln1.w"), W.get(b + "ln1.b"), b + "ln1", hk)
    attn_out = hk(b + "hook_attn_out", attention(x, W, l, hk))
    resid_mid = hk(b + "hook_resid_mid", resid_pre + attn_out)
    x = layer_norm(resid_mid, W.get(b + "ln2.w"), W.get(b + "ln2.b"), b + "ln2", hk)
    mlp_out = hk(b + "hook_mlp_out", mlp(x, W, l, hk))
    return hk(b + "hook_resid_post", resid_mid + mlp_out)


def forward(W, tokens, n_layer, hooks=None, cache=None):
    hk = HookCtx(hooks, cache)
    B, P = tokens.shape
    embed = hk("hook_embed", W["embed.W_E"][tokens])
    pos = hk("hook_pos_embed", W["pos_embed.W_pos"][:P].unsqueeze(0).repeat(B, 1, 1))
    resid = embed + pos
    for l in range(n_layer):
        resid = block(resid, W, l, hk)
    x = layer_norm(resid, W.get("ln_final.w"), W.get("ln_final.b"), "ln_final", hk)
    logits = x @ W["unembed.W_U"] + W["unembed.b_U"]
    if cache is not None:
        cache["logits"] = logits
    return logits


def logit_diff(logits, answers):
    i = torch.arange(logits.shape[0])
    return (logits[i, -1, answers[:, 0]] - logits[i, -1, answers[:, 1]]).mean()


# --------------------------------------------------------------------------------------
# Activation patching (clean -> corrupted)
# --------------------------------------------------------------------------------------
def patch_metric(W, cfg, corrupted, answers, clean_cache, name, index):
    def fn(x):
        y = x.clone()
        y[index] = clean_cache[name][index]
        return y

    with torch.no_grad():
        return logit_diff(forward(W, corrupted, cfg["n_layer"], hooks={name: fn}), answers).item()


def activation_patching(W, cfg, corrupted, answers, clean_cache):
    L, H, P = cfg["n_layer"], cfg["n_head"], corrupted.shape[1]
    d_mlp = 4 * cfg["n_embd"]
    S = slice(None)
    T = lambda x: torch.tensor(x, dtype=F64)
    pm = lambda name, idx: patch_metric(W, cfg, corrupted, answers, clean_cache, name, idx)
    out = {}
    for key, hook in (("resid_pre", "hook_resid_pre"), ("attn_out", "hook_attn_out"), ("mlp_out", "hook_mlp_out")):
        out[f"patch.{key}"] = T([[pm(f"blocks.{l}.{hook}", (S, p)) for p in range(P)] for l in range(L)])
    out["patch.head_z"] = T([[pm(f"blocks.{l}.attn.hook_z", (S, S, h)) for h in range(H)] for l in range(L)])
    out["patch.head_v"] = T([[pm(f"blocks.{l}.attn.hook_v", (S, S, h)) for h in range(H)] for l in range(L)])
    out["patch.head_pattern"] = T(
        [[pm(f"blocks.{l}.attn.hook_pattern", (S, h)) for h in range(H)] for l in range(L)])
    out["patch.head_z_by_pos"] = T(
        [[[pm(f"blocks.{l}.attn.hook_z", (S, p, h)) for h in range(H)] for p in range(P)] for l in range(L)])
    for l in sorted({L - 1, 0}):
        out[f"patch.neurons_L{l}"] = T([pm(f"blocks.{l}.mlp.hook_post", (S, S, n)) for n in range(d_mlp)])
    return out


# --------------------------------------------------------------------------------------
# Gradients of the metric on the corrupted run (attribution patching)
# --------------------------------------------------------------------------------------
def metric_gradients(W, cfg, corrupted, answers):
    Wg = {k: v.clone().requires_grad_(True) for k, v in W.items()}
    cache = {}
    metric = logit_diff(forward(Wg, corrupted, cfg["n_layer"], cache=cache), answers)
    for v in cache.values():
        v.retain_grad()
    metric.backward()
    grads = {n: v.grad.detach().clone() for n, v in cache.items() if not n.endswith("hook_attn_scores")}
    return metric.item(), {n: v.detach() for n, v in cache.items()}, grads


# --------------------------------------------------------------------------------------
# Parameter gradients of the language-model loss on the raw weights (training)
# --------------------------------------------------------------------------------------
def lm_loss(logits, tokens):
    """TransformerLens lm_cross_entropy_loss (per_token=False): mean over batch and the first pos-1
    positions of -log p(tokens[:, p+1] | tokens[:, :p+1])."""
    logp = logits[:, :-1].log_softmax(-1)
    return -logp.gather(-1, tokens[:, 1:, None]).mean()


def param_gradients(W, cfg, tokens):
    """d lm_loss / d every raw TL parameter. W_E and W_U are separate parameters, as in a TransformerLens model
    (the gradient of a tied Hugging Face embedding is grad W_E + grad W_U^T)."""
    Wg = {k: v.clone().requires_grad_(True) for k, v in W.items()}
    loss = lm_loss(forward(Wg, tokens, cfg["n_layer"]), tokens)
    loss.backward()
    return loss.item(), {k: v.grad.detach().clone() for k, v in Wg.items()}


def check_finite_differences(grads, run, seed):
    """Each gradient against a central finite difference along a random direction (float64);
    run(name, offset) is the scalar with `offset` added to the tensor `name`."""
    g = torch.Generator().manual_seed(seed)
    for name in sorted(grads):
        direction = torch.randn(grads[name].shape, generator=g, dtype=F64)
        h = 1e-5
        with torch.no_grad():
            fd = (run(name, h * direction) - run(name, -h * direction)) / (2 * h)
        an = (grads[name] * direction).sum().item()
        assert abs(fd - an) < 1e-6 * max(1.0, abs(an)), (name, fd, an)


def check_param_gradients(W, cfg, tokens, loss, grads):
    with torch.no_grad():
        assert abs(lm_loss(forward(W, tokens, cfg["n_layer"]), tokens).item() - loss) < 1e-12
    check_finite_differences(
        grads, lambda name, offset: lm_loss(forward({**W, name: W[name] + offset}, tokens, cfg["n_layer"]), tokens).item(),
        seed=98)


# --------------------------------------------------------------------------------------
# Self checks (float64 -> tight tolerances)
# --------------------------------------------------------------------------------------
def self_check(cfg, Wraw, Wproc, clean, corrupted, answers, raw_cache, proc_cache, corr_cache, grads, patches):
    L = cfg["n_layer"]
    close = lambda a, b, tol=1e-9: torch.allclose(a, b, atol=tol, rtol=0)
    # processing preserves log-probs and attention patterns
    assert close(raw_cache["logits"].log_softmax(-1), proc_cache["logits"].log_softmax(-1)), "log-probs differ"
    for l in range(L):
        assert close(raw_cache[f"blocks.{l}.attn.hook_pattern"], proc_cache[f"blocks.{l}.attn.hook_pattern"])
    # centring of processed weights
    assert close(Wproc["embed.W_E"].mean(-1), torch.zeros(1, dtype=F64))
    assert close(Wproc["unembed.W_U"].mean(-1), torch.zeros(1, dtype=F64))
    assert close(Wproc["unembed.W_U"].mean(0), torch.zeros(1, dtype=F64))
    # patching: nothing differs before position 2; patching everything recovers clean metric
    m_clean = logit_diff(proc_cache["logits"], answers).item()
    m_corr = logit_diff(corr_cache["logits"], answers).item()
    for k in ("patch.resid_pre", "patch.attn_out", "patch.mlp_out"):
        assert close(patches[k][:, :2], torch.full_like(patches[k][:, :2], m_corr)), k
    S = slice(None)
    for l in range(L):
        m_all = patch_metric(Wproc, cfg, corrupted, answers, proc_cache, f"blocks.{l}.hook_resid_pre", (S,))
        assert abs(m_all - m_clean) < 1e-9
    # gradients: central finite differences along a random direction, for every hook
    check_finite_differences(
        {k: g for k, g in grads.items() if k != "logits"},
        lambda name, offset: logit_diff(forward(Wproc, corrupted, L, hooks={name: lambda x: x + offset}), answers).item(),
        seed=99)


# --------------------------------------------------------------------------------------
def tl_weight_tensors(W):
    keep = ("embed.W_E", "pos_embed.W_pos", "unembed.W_U", "unembed.b_U")
    out = {}
    for k, v in W.items():
        if k in keep or ".attn." in k or ".mlp." in k:
            out["weights." + k] = v
    return out


def maxabs(t):
    t = t.detach().to(F64)
    f = t[torch.isfinite(t)]
    return f.abs().max().item() if f.numel() else float("nan")


def write_model(cfg):
    name = cfg["name"]
    out = OUT_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    L = cfg["n_layer"]
    hf = make_hf_weights(cfg)
    clean, corrupted, answers = make_tokens(cfg)

    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "bos_token_id": cfg["vocab_size"] - 1,
        "eos_token_id": cfg["vocab_size"] - 1,
        "layer_norm_epsilon": EPS,
        "model_type": "gpt2",
        "n_ctx": cfg["n_positions"],
        "n_embd": cfg["n_embd"],
        "n_head": cfg["n_head"],
        "n_inner": None,
        "n_layer": L,
        "n_positions": cfg["n_positions"],
        "torch_dtype": {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[cfg["dtype"]],
        "vocab_size": cfg["vocab_size"],
    }
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    rows = lambda t: "[\n" + ",\n".join("    " + json.dumps(r) for r in t.tolist()) + "\n  ]"
    (out / "tokens.json").write_text(
        '{\n  "clean": %s,\n  "corrupted": %s,\n  "answers": %s\n}\n' % (rows(clean), rows(corrupted), rows(answers)))
    save_safetensors(out / "model.safetensors", hf, metadata={"format": "pt"})

    Wraw = hf_to_tl(hf, cfg)  # float64 from the (possibly rounded) stored weights
    Wproc = process_weights(Wraw, cfg)

    raw_cache, proc_cache = {}, {}
    with torch.no_grad():
        forward(Wraw, clean, L, cache=raw_cache)
        forward(Wproc, clean, L, cache=proc_cache)
    m_corr, corr_cache, grads = metric_gradients(Wproc, cfg, corrupted, answers)
    m_clean = logit_diff(proc_cache["logits"], answers).item()
    patches = activation_patching(Wproc, cfg, corrupted, answers, proc_cache)
    self_check(cfg, Wraw, Wproc, clean, corrupted, answers, raw_cache, proc_cache, corr_cache, grads, patches)
    loss, param_grads = param_gradients(Wraw, cfg, clean)
    check_param_gradients(Wraw, cfg, clean, loss, param_grads)

    raw_out = dict(raw_cache)
    raw_out.update({"param_grad." + k: v for k, v in param_grads.items()})
    raw_out["lm_loss"] = torch.tensor([loss], dtype=F64)
    proc_out = dict(proc_cache)
    proc_out.update(tl_weight_tensors(Wproc))
    proc_out.update({"grad." + k: v for k, v in grads.items()})
    proc_out.update({"corrupted." + k: v for k, v in corr_cache.items()})
    proc_out["metric.clean"] = torch.tensor([m_clean], dtype=F64)
    proc_out["metric.corrupted"] = torch.tensor([m_corr], dtype=F64)
    proc_out.update(patches)
    for fname, tensors in (("golden_raw.safetensors", raw_out), ("golden_processed.safetensors", proc_out)):
        t32 = {k: v.detach().to(torch.float32) for k, v in tensors.items()}
        save_safetensors(out / fname, t32)
        back = load_safetensors(out / fname)
        assert set(back) == set(t32) and all(torch.equal(back[k], t32[k]) for k in t32)
        print(f"\n[{name}/{fname}] {len(t32)} tensors")
        for k in sorted(t32):
            print(f"  {k:48s} {str(list(t32[k].shape)):18s} max|x| = {maxabs(t32[k]):.6g}")
    back = load_safetensors(out / "model.safetensors")
    assert all(torch.equal(back[k].view(torch.int16 if back[k].element_size() == 2 else torch.int32),
                           hf[k].view(torch.int16 if hf[k].element_size() == 2 else torch.int32)) for k in hf)
    print(f"\n[{name}] metric.clean = {m_clean:.6f}, metric.corrupted = {m_corr:.6f}")
    for f in sorted(out.iterdir()):
        print(f"  {f.name:30s} {f.stat().st_size:8d} bytes  sha256 {hashlib.sha256(f.read_bytes()).hexdigest()[:16]}")


def main():
    for cfg in MODELS:
        write_model(cfg)
    print("\nall self-checks passed")


if __name__ == "__main__":
    sys.exit(main())
