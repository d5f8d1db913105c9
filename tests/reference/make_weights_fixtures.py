#!/usr/bin/env python3
"""Weights-based views of the tiny GPT-2 fixtures, computed independently in PyTorch (float64).

Run after make_fixtures.py (Debian python with python3-torch):

    /usr/bin/python3 tests/reference/make_weights_fixtures.py

For tiny-a and tiny-b it reads model.safetensors, applies the same TransformerLens processing as
make_fixtures.py (fold_ln, centring, fold_value_biases) and writes
tests/SharpLens.Tests/fixtures/<name>/weights_views.safetensors (F32) holding, per head [L, H, ...]:

  ov.S / qk.S [L,H,dh]       singular values of OV = W_V W_O and QK = W_Q W_K^T (torch.linalg.svdvals)
  ov.norm / qk.norm [L,H]     Frobenius norms
  ov.eig [L,H,dh,2]           eigenvalues of OV's B·A = W_O W_V (torch.linalg.eigvals), sorted by (real, imag)
  full_ov [L,H,V,V]           W_E W_V W_O W_U (materialised: the vocabulary is tiny)
  full_ov.copying [L,H]       Re(sum eig) / sum |eig| over ALL V eigenvalues of the materialised full OV circuit
  comp.Q / comp.K / comp.V [L,H,L,H]  ||L R||_F / (||L||_F ||R||_F), L = OV of the first head, R = QK, QK^T, OV of the
                              second; zero unless the second head's layer is later (TransformerLens all_composition_scores)
  bigram.embed.ln [V,V]       LNPre(W_E[s]) W_U + b_U  (row s = source token)
  bigram.embed.raw [V,V]      W_E W_U
  bigram.effective.ln [V,V]   LNPre(W_E + MLP0(LNPre(W_E))) W_U + b_U

Nothing here uses SharpLens code; the C# tests compare against these numbers.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (the reference model and processing)

torch.set_num_threads(1)
F64 = mf.F64


def ln_pre(x):
    x = x - x.mean(-1, keepdim=True)
    return x / (x.pow(2).mean(-1, keepdim=True) + mf.EPS).sqrt()


def sorted_eig(m):
    e = torch.linalg.eigvals(m)
    pairs = sorted(((v.real.item(), v.imag.item()) for v in e))
    return torch.tensor(pairs, dtype=F64)


def views(cfg):
    hf = mf.load_safetensors(mf.OUT_DIR / cfg["name"] / "model.safetensors")
    W = mf.process_weights(mf.hf_to_tl(hf, cfg), cfg)
    L, H = cfg["n_layer"], cfg["n_head"]
    WE, WU, bU = W["embed.W_E"], W["unembed.W_U"], W["unembed.b_U"]
    ov = [[W[f"blocks.{l}.attn.W_V"][h] @ W[f"blocks.{l}.attn.W_O"][h] for h in range(H)] for l in range(L)]
    qk = [[W[f"blocks.{l}.attn.W_Q"][h] @ W[f"blocks.{l}.attn.W_K"][h].T for h in range(H)] for l in range(L)]
    dh = W["blocks.0.attn.W_V"].shape[-1]
    out = {}
    out["ov.S"] = torch.stack([torch.stack([torch.linalg.svdvals(m)[:dh] for m in row]) for row in ov])
    out["qk.S"] = torch.stack([torch.stack([torch.linalg.svdvals(m)[:dh] for m in row]) for row in qk])
    out["ov.norm"] = torch.tensor([[torch.linalg.matrix_norm(m).item() for m in row] for row in ov], dtype=F64)
    out["qk.norm"] = torch.tensor([[torch.linalg.matrix_norm(m).item() for m in row] for row in qk], dtype=F64)
    out["ov.eig"] = torch.stack([torch.stack([
        sorted_eig(W[f"blocks.{l}.attn.W_O"][h] @ W[f"blocks.{l}.attn.W_V"][h]) for h in range(H)]) for l in range(L)])
    full = torch.stack([torch.stack([WE @ m @ WU for m in row]) for row in ov])
    out["full_ov"] = full
    copying = torch.zeros(L, H, dtype=F64)
    for l in range(L):
        for h in range(H):
            e = torch.linalg.eigvals(full[l, h])
            copying[l, h] = e.sum().real / e.abs().sum()
    out["full_ov.copying"] = copying
    right = {"Q": qk, "K": [[m.T for m in row] for row in qk], "V": ov}
    for mode, R in right.items():
        s = torch.zeros(L, H, L, H, dtype=F64)
        for l1 in range(L):
            for h1 in range(H):
                for l2 in range(l1 + 1, L):
                    for h2 in range(H):
                        a, b = ov[l1][h1], R[l2][h2]
                        s[l1, h1, l2, h2] = torch.linalg.matrix_norm(a @ b) / torch.linalg.matrix_norm(a) / torch.linalg.matrix_norm(b)
        out[f"comp.{mode}"] = s
    out["bigram.embed.ln"] = ln_pre(WE) @ WU + bU
    out["bigram.embed.raw"] = WE @ WU
    b0 = "blocks.0.mlp."
    pre = ln_pre(WE) @ W[b0 + "W_in"] + W[b0 + "b_in"]
    effective = WE + mf.gelu_new(pre) @ W[b0 + "W_out"] + W[b0 + "b_out"]
    out["bigram.effective.ln"] = ln_pre(effective) @ WU + bU
    return out


def main():
    for cfg in mf.MODELS:
        if cfg["dtype"] != torch.float32:
            continue
        out = views(cfg)
        path = mf.OUT_DIR / cfg["name"] / "weights_views.safetensors"
        t32 = {k: v.to(torch.float32) for k, v in out.items()}
        mf.save_safetensors(path, t32)
        back = mf.load_safetensors(path)
        assert set(back) == set(t32) and all(torch.equal(back[k], t32[k]) for k in t32)
        print(f"[{cfg['name']}] wrote {path.name}: " + ", ".join(f"{k} {list(v.shape)}" for k, v in sorted(t32.items())))
        print(f"  copying scores {out['full_ov.copying'].flatten().tolist()}")


if __name__ == "__main__":
    sys.exit(main())
