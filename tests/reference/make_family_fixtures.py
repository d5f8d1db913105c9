#!/usr/bin/env python3
"""Independent PyTorch references for the Hugging Face families: writes golden fixtures on tiny random checkpoints.

Run (Debian python with python3-torch / python3-numpy):

    /usr/bin/python3 tests/reference/make_family_fixtures.py [variant ...]

For each variant of family_checkpoints.VARIANTS it writes tests/SharpLens.Tests/fixtures/<name>/:
  config.json, model.safetensors (or model-0000i-of-0000n.safetensors + model.safetensors.index.json), tokens.json,
  golden_raw.safetensors (raw weights: every hook, logits, LM-loss parameter gradients) and
  golden_processed.safetensors (TransformerLens from_pretrained processing: processed weights, every hook, corrupted
  run, metric gradients, activation patching).

Two independent forwards are compared before anything is written: the Hugging Face-layout one (family_hf.py) and
the TransformerLens-layout one (family_tl.py) on the converted weights; also their LM-loss gradients. Every
gradient is checked against finite differences. float64 throughout, stored as float32; deterministic.
"""
import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import family_checkpoints as ck  # noqa: E402
import family_hf as hfm  # noqa: E402
import family_tl as tl  # noqa: E402
import make_fixtures as mf  # noqa: E402  (safetensors I/O, logit_diff, lm_loss)

torch.set_num_threads(1)
F64 = torch.float64
BATCH, SEQ = 3, 6


def close(a, b, tol=1e-9):
    scale = max(1.0, a.abs().max().item())
    return (a - b).abs().max().item() <= tol * scale


# --------------------------------------------------------------------------------------
# Activation patching (clean -> corrupted, raw metric values), gradients
# --------------------------------------------------------------------------------------
def activation_patching(W, a, corrupted, answers, clean_cache):
    S, P = slice(None), corrupted.shape[1]

    def pm(name, index):
        def fn(x):
            y = x.clone()
            y[index] = clean_cache[name][index]
            return y

        with torch.no_grad():
            return mf.logit_diff(tl.forward(W, a, corrupted, hooks={name: fn}), answers).item()

    T = lambda x: torch.tensor(x, dtype=F64)
    L, H, K = a.n_layers, a.n_heads, a.n_kv
    out = {}
    for key, hook in (("resid_pre", "hook_resid_pre"), ("attn_out", "hook_attn_out"), ("mlp_out", "hook_mlp_out")):
        out[f"patch.{key}"] = T([[pm(f"blocks.{l}.{hook}", (S, p)) for p in range(P)] for l in range(L)])
    out["patch.head_z"] = T([[pm(f"blocks.{l}.attn.hook_z", (S, S, h)) for h in range(H)] for l in range(L)])
    out["patch.head_v"] = T([[pm(f"blocks.{l}.attn.hook_v", (S, S, h)) for h in range(K)] for l in range(L)])
    out["patch.head_pattern"] = T([[pm(f"blocks.{l}.attn.hook_pattern", (S, h)) for h in range(H)] for l in range(L)])
    out["patch.head_z_by_pos"] = T(
        [[[pm(f"blocks.{l}.attn.hook_z", (S, p, h)) for h in range(H)] for p in range(P)] for l in range(L)])
    for l in sorted({0, L - 1}):
        out[f"patch.neurons_L{l}"] = T([pm(f"blocks.{l}.mlp.hook_post", (S, S, n)) for n in range(a.d_mlp)])
    return out


def metric_gradients(W, a, tokens, answers):
    """d logit_diff / d every hook on `tokens` (except hook_attn_scores, which holds -inf)."""
    cache = {}
    Wg = {k: t.clone().requires_grad_(True) for k, t in W.items()}
    metric = mf.logit_diff(tl.forward(Wg, a, tokens, cache=cache), answers)
    for t in cache.values():
        t.retain_grad()
    metric.backward()
    grads = {n: t.grad.detach().clone() for n, t in cache.items() if not n.endswith("hook_attn_scores")}
    return metric.item(), {n: t.detach() for n, t in cache.items()}, grads


def param_gradients(W, a, tokens):
    Wg = {k: t.clone().requires_grad_(True) for k, t in W.items()}
    loss = mf.lm_loss(tl.forward(Wg, a, tokens), tokens)
    loss.backward()
    return loss.item(), {k: t.grad.detach().clone() for k, t in Wg.items()}


# --------------------------------------------------------------------------------------
# Self checks: the two forwards agree, processing keeps the model, the family's features matter
# --------------------------------------------------------------------------------------
def check_hf_against_tl(c, a, hf, clean, raw_cache, param_grads):
    logits, states = hfm.hf_forward(c, hf, clean)
    assert close(logits, raw_cache["logits"]), ("HF-layout and TL-layout logits differ", c["model_type"])
    for l in range(a.n_layers):
        assert close(states[l], raw_cache[f"blocks.{l}.hook_resid_pre"]), ("resid_pre", l)
        assert close(states[l + 1], raw_cache[f"blocks.{l}.hook_resid_post"]), ("resid_post", l)
    # LM-loss gradients by autograd through the HF layout, mapped to TL names by the same (linear) conversion
    hf_params = {k: t.to(F64).requires_grad_(True) for k, t in hf.items()}
    mf.lm_loss(hfm.hf_forward(c, hf_params, clean)[0], clean).backward()
    mapped = tl.hf_to_tl({k: t.grad for k, t in hf_params.items()}, c, a)
    tied = c.get("tie_word_embeddings", False)
    for k, g in mapped.items():
        if (g == 0).all():  # a bias the checkpoint does not have: TransformerLens adds it as zeros
            assert k.split(".")[-1] in ("b_Q", "b_K", "_b_K", "b_V", "_b_V", "b_O", "b_in", "b_out", "b_U"), k
            continue
        if tied and k in ("embed.W_E", "unembed.W_U"):
            both = param_grads["embed.W_E"] + param_grads["unembed.W_U"].T
            assert close(g, both if k == "embed.W_E" else both.T, 1e-8), k
        else:
            assert close(g, param_grads[k], 1e-8), ("HF-layout gradient differs", k)


def check_features(v, a, hf, clean, logits):
    """The family's distinguishing features change the numbers at the fixture's size (else they would go untested)."""
    c = v["config"]
    differs = lambda changes: not close(hfm.hf_forward({**c, **changes}, hf, clean)[0], logits, 1e-3)
    if c["model_type"] == "gpt_neox":
        assert 0 < a.rotary_dim < a.d_head
        assert differs({"use_parallel_residual": not a.parallel})
        return
    assert a.gqa or v["name"] == "llama2"
    if c.get("rope_scaling"):
        s = c["rope_scaling"]
        wavelen = 2 * torch.pi * a.rotary_base ** (torch.arange(0, a.rotary_dim, 2, dtype=F64) / a.rotary_dim)
        old = s["original_max_position_embeddings"]
        kept, divided = wavelen < old / s["high_freq_factor"], wavelen > old / s["low_freq_factor"]
        assert kept.any() and divided.any() and (~kept & ~divided).any(), "every llama3 regime is used"
        assert differs({"rope_scaling": None})
    if c["model_type"] == "mistral":
        assert c["sliding_window"] < SEQ and differs({"sliding_window": None})
    if c["model_type"] == "qwen2":  # the configured window would matter, but use_sliding_window is false
        assert c["sliding_window"] < SEQ and differs({"use_sliding_window": True})
    if c["model_type"] == "qwen3":
        assert a.d_head != a.d_model // a.n_heads and a.qk_norm
    if "head_dim" not in c:
        assert a.d_head == a.d_model // a.n_heads


def check_processing(a, Wproc, raw_cache, proc_cache, corrupted, answers, patches):
    assert close(raw_cache["logits"].log_softmax(-1), proc_cache["logits"].log_softmax(-1)), "log-probs differ"
    for l in range(a.n_layers):
        assert close(raw_cache[f"blocks.{l}.attn.hook_pattern"], proc_cache[f"blocks.{l}.attn.hook_pattern"])
        if a.norm == "RMS":  # no centring: the residual stream is unchanged
            assert close(raw_cache[f"blocks.{l}.hook_resid_post"], proc_cache[f"blocks.{l}.hook_resid_post"])
    assert close(Wproc["unembed.W_U"].mean(-1), torch.zeros(1, dtype=F64))
    if a.norm == "LN":
        assert close(Wproc["embed.W_E"].mean(-1), torch.zeros(1, dtype=F64))
    m_corr = mf.logit_diff(proc_cache["corrupted.logits"], answers).item()
    for k in ("patch.resid_pre", "patch.attn_out", "patch.mlp_out"):
        assert close(patches[k][:, :2], torch.full_like(patches[k][:, :2], m_corr)), k
    m_clean = mf.logit_diff(proc_cache["logits"], answers).item()
    full = {"blocks.0.hook_resid_pre": lambda x: proc_cache["blocks.0.hook_resid_pre"]}
    with torch.no_grad():
        assert abs(mf.logit_diff(tl.forward(Wproc, a, corrupted, hooks=full), answers).item() - m_clean) < 1e-9


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_checkpoint(out, v, hf):
    write_json(out / "config.json", v["config"])
    if not v["sharded"]:
        mf.save_safetensors(out / "model.safetensors", hf, metadata={"format": "pt"})
        return
    weight_map = {}
    parts = ck.shard(hf)
    layers_split = {k.split(".")[2] for k in parts[0][1] if k.startswith("model.layers.")} & \
                   {k.split(".")[2] for k in parts[1][1] if k.startswith("model.layers.")}
    assert len(parts) == 2 and layers_split, "the shard cut falls inside a layer"
    for fname, part in parts:
        mf.save_safetensors(out / fname, part, metadata={"format": "pt"})
        weight_map.update({k: fname for k in part})
    total = sum(t.numel() * t.element_size() for t in hf.values())
    write_json(out / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})


def read_checkpoint(out):
    index = out / "model.safetensors.index.json"
    if not index.exists():
        return mf.load_safetensors(out / "model.safetensors")
    weight_map = json.loads(index.read_text())["weight_map"]
    hf = {}
    for fname in sorted(set(weight_map.values())):
        part = mf.load_safetensors(out / fname)
        assert all(weight_map[k] == fname for k in part) and not set(part) & set(hf)
        hf.update(part)
    assert set(hf) == set(weight_map)
    return hf


def bits(t):
    return t.view(torch.int16 if t.element_size() == 2 else torch.int32)


def write_variant(v):
    name, c = v["name"], v["config"]
    out = mf.OUT_DIR / name
    a = tl.tl_arch(c)
    hf = ck.make_hf_weights(v)
    clean, corrupted, answers = ck.make_tokens(v, BATCH, SEQ)

    Wraw = tl.hf_to_tl(hf, c, a)  # float64 from the (rounded) stored weights
    Wproc = tl.process_weights(Wraw, a)
    raw_cache, proc_cache = {}, {}
    with torch.no_grad():
        tl.forward(Wraw, a, clean, cache=raw_cache)
        tl.forward(Wproc, a, clean, cache=proc_cache)
    assert list(raw_cache)[:-1] == tl.hook_names(a), "hook order"
    loss, param_grads = param_gradients(Wraw, a, clean)
    check_hf_against_tl(c, a, hf, clean, raw_cache, param_grads)
    check_features(v, a, hf, clean, raw_cache["logits"])
    m_corr, corr_cache, grads = metric_gradients(Wproc, a, corrupted, answers)
    m_clean = mf.logit_diff(proc_cache["logits"], answers).item()
    patches = activation_patching(Wproc, a, corrupted, answers, proc_cache)
    proc_cache.update({"corrupted." + k: t for k, t in corr_cache.items()})
    check_processing(a, Wproc, raw_cache, proc_cache, corrupted, answers, patches)

    def with_param(name, offset):
        return mf.lm_loss(tl.forward({**Wraw, name: Wraw[name] + offset}, a, clean), clean).item()

    def with_hook(name, offset):
        return mf.logit_diff(tl.forward(Wproc, a, corrupted, hooks={name: lambda x: x + offset}), answers).item()

    mf.check_finite_differences(param_grads, with_param, seed=98)
    mf.check_finite_differences({k: g for k, g in grads.items() if k != "logits"}, with_hook, seed=99)

    raw_out = dict(raw_cache)
    raw_out.update({"param_grad." + k: g for k, g in param_grads.items()})
    raw_out["lm_loss"] = torch.tensor([loss], dtype=F64)
    proc_out = dict(proc_cache)
    proc_out.update({"weights." + k: t for k, t in Wproc.items()})
    proc_out.update({"grad." + k: g for k, g in grads.items()})
    proc_out["metric.clean"] = torch.tensor([m_clean], dtype=F64)
    proc_out["metric.corrupted"] = torch.tensor([m_corr], dtype=F64)
    proc_out.update(patches)

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.safetensors*"):  # a variant may switch between one file and shards
        stale.unlink()
    write_checkpoint(out, v, hf)
    back = read_checkpoint(out)
    assert set(back) == set(hf) and all(torch.equal(bits(back[k]), bits(hf[k])) for k in hf)
    rows = lambda t: "[\n" + ",\n".join("    " + json.dumps(r) for r in t.tolist()) + "\n  ]"
    (out / "tokens.json").write_text(
        '{\n  "clean": %s,\n  "corrupted": %s,\n  "answers": %s\n}\n' % (rows(clean), rows(corrupted), rows(answers)))
    for fname, tensors in (("golden_raw.safetensors", raw_out), ("golden_processed.safetensors", proc_out)):
        t32 = {k: t.detach().to(torch.float32) for k, t in tensors.items()}
        mf.save_safetensors(out / fname, t32)
        back = mf.load_safetensors(out / fname)
        assert set(back) == set(t32) and all(torch.equal(back[k], t32[k]) for k in t32)
    print(f"[{name}] {c['model_type']} L={a.n_layers} d={a.d_model} heads={a.n_heads}/{a.n_kv} d_head={a.d_head} "
          f"d_mlp={a.d_mlp} vocab={a.d_vocab} {c['torch_dtype']}: lm_loss = {loss:.6f}, "
          f"metric clean {m_clean:.6f} corrupted {m_corr:.6f}")
    for f in sorted(out.iterdir()):
        print(f"  {f.name:36s} {f.stat().st_size:8d} bytes  sha256 {hashlib.sha256(f.read_bytes()).hexdigest()[:16]}")


def main(names):
    chosen = [v for v in ck.VARIANTS if not names or v["name"] in names]
    if names and len(chosen) != len(set(names)):
        sys.exit(f"unknown variant in {names}; known: {[v['name'] for v in ck.VARIANTS]}")
    for v in chosen:
        write_variant(v)
    print("all self-checks passed")


if __name__ == "__main__":
    main(sys.argv[1:])
