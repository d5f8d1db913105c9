#!/usr/bin/env python3
"""Independent PyTorch reference for SharpLens' circuit tools (edge attribution and exact edge patching).

Run after make_fixtures.py (Debian python with python3-torch):

    /usr/bin/python3 tests/reference/make_circuit_fixtures.py

For tiny-a and tiny-b it reads model.safetensors and tokens.json, applies TransformerLens' weight processing
(the functions of make_fixtures.py) and writes tests/SharpLens.Tests/fixtures/<name>/circuits.safetensors:

  eap.logit_diff      [n_forward, n_backward]  EAP scores, gradient by torch autograd on the clean run
  eap_ig3.logit_diff  [n_forward, n_backward]  EAP-IG, 3 steps (input embeddings interpolated, k/3 for k = 0..2)
  eap_ig3.kl          [n_forward, n_backward]  EAP-IG, 3 steps, metric KL(clean || run)
  mask.{i}            [n_backward, n_forward]  random 0/1 edge sets (1 = the edge carries the corrupted value)
  exact.{i}           [batch]                  per-prompt logit difference of the edge-patched run

The graph is EAP-IG's: upstream nodes input, a{l}.h{h} (hook_result), m{l}; downstream nodes every head's q, k, v
input (a separate copy of the residual stream before ln1, as TransformerLens' use_split_qkv_input), every MLP input
and the logits. score(u -> n) = sum over prompts and positions of (corrupted - clean output of u) . d(mean metric)/d(input of n).
Everything in float64, stored as float32; deterministic.
"""
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402

torch.set_num_threads(1)
F64 = torch.float64


def graph_shape(L, H):
    n_forward = 1 + L * (H + 1)
    n_backward = L * (3 * H + 1) + 1
    return n_forward, n_backward


def head_fwd(l, h, H):
    return 1 + l * (H + 1) + h


def mlp_fwd(l, H):
    return 1 + l * (H + 1) + H


def head_bwd(l, c, h, H):
    return l * (3 * H + 1) + c * H + h


def mlp_bwd(l, H):
    return l * (3 * H + 1) + 3 * H


def upstream_count(n, L, H):
    """Number of upstream nodes feeding downstream node n (its parents are forward indices 0..count-1)."""
    if n == L * (3 * H + 1):
        return 1 + L * (H + 1)
    l, r = divmod(n, 3 * H + 1)
    return 1 + l * (H + 1) + (H if r == 3 * H else 0)


def ln_pre(x):
    x = x - x.mean(-1, keepdim=True)
    return x / (x.pow(2).mean(-1, keepdim=True) + mf.EPS).sqrt()


def graph_forward(W, tokens, L, H, weights=None, corrupted=None, input_override=None, probes=None, outputs=None):
    """Forward with one residual copy per downstream node.
    weights [n_backward, n_forward]: 1 = the edge carries `corrupted`'s output of its parent.
    probes: list of n_backward tensors added to each downstream input (zeros requiring grad, for gradients).
    outputs: list filled with every upstream node's output [B, P, d]. Returns final-position logits [B, V]."""
    B, P = tokens.shape
    outs = []

    def downstream_input(resid, n):
        x = resid
        if weights is not None:
            cnt = upstream_count(n, L, H)
            for u in range(cnt):
                if weights[n, u] != 0:
                    x = x + weights[n, u] * (corrupted[u] - outs[u])
        if probes is not None:
            x = x + probes[n]
        return x

    inp = W["embed.W_E"][tokens] + W["pos_embed.W_pos"][:P].unsqueeze(0)
    if input_override is not None:
        inp = input_override
    outs.append(inp)
    resid = inp
    causal = torch.ones(P, P, dtype=torch.bool).tril()
    for l in range(L):
        a = f"blocks.{l}.attn."
        qkv = []
        for c, n in enumerate("QKV"):
            per_head = []
            for h in range(H):
                x = ln_pre(downstream_input(resid, head_bwd(l, c, h, H)))
                per_head.append(x @ W[a + f"W_{n}"][h] + W[a + f"b_{n}"][h])
            qkv.append(torch.stack(per_head, dim=2))  # [B, P, H, dh]
        q, k, v = qkv
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(q.shape[-1])
        scores = torch.where(causal, scores, torch.tensor(float("-inf"), dtype=F64))
        pattern = scores.softmax(-1)
        z = torch.einsum("bkhe,bhqk->bqhe", v, pattern)
        head_outs = [z[:, :, h] @ W[a + "W_O"][h] for h in range(H)]
        outs.extend(head_outs)
        resid = resid + sum(head_outs) + W[a + "b_O"]
        m = f"blocks.{l}.mlp."
        x = ln_pre(downstream_input(resid, mlp_bwd(l, H)))
        mlp_out = mf.gelu_new(x @ W[m + "W_in"] + W[m + "b_in"]) @ W[m + "W_out"] + W[m + "b_out"]
        outs.append(mlp_out)
        resid = resid + mlp_out
    x = ln_pre(downstream_input(resid, L * (3 * H + 1)))
    logits = x[:, -1] @ W["unembed.W_U"] + W["unembed.b_U"]
    if outputs is not None:
        outputs.extend(outs)
    return logits


def logit_diff_per_prompt(logits, answers):
    i = torch.arange(logits.shape[0])
    return logits[i, answers[:, 0]] - logits[i, answers[:, 1]]


def kl_per_prompt(clean_logits, logits):
    p = clean_logits.log_softmax(-1)
    q = logits.log_softmax(-1)
    return (p.exp() * (p - q)).sum(-1)


def input_gradients(W, tokens, L, H, metric, input_override=None):
    """d(mean metric)/d(input of every downstream node) [n_backward, B, P, d] by autograd."""
    nF, nB = graph_shape(L, H)
    B, P = tokens.shape
    d = W["embed.W_E"].shape[1]
    probes = [torch.zeros(B, P, d, dtype=F64, requires_grad=True) for _ in range(nB)]
    logits = graph_forward(W, tokens, L, H, input_override=input_override, probes=probes)
    metric(logits).mean().backward()
    return torch.stack([p.grad for p in probes])


def edge_scores(diff, grads, L, H):
    """score[u, n] = sum over prompts, positions, d of diff[u] * grads[n], non-edges zero."""
    scores = torch.einsum("ubpd,nbpd->un", diff, grads)
    for n in range(scores.shape[1]):
        scores[upstream_count(n, L, H):, n] = 0
    return scores


def write(name):
    folder = mf.OUT_DIR / name
    cfg = next(c for c in mf.MODELS if c["name"] == name)
    L, H = cfg["n_layer"], cfg["n_head"]
    hf = mf.load_safetensors(folder / "model.safetensors")
    W = mf.process_weights(mf.hf_to_tl(hf, cfg), cfg)
    clean, corrupted, answers = mf.make_tokens(cfg)
    nF, nB = graph_shape(L, H)

    with torch.no_grad():
        clean_out, corr_out = [], []
        clean_logits = graph_forward(W, clean, L, H, outputs=clean_out)
        corr_logits = graph_forward(W, corrupted, L, H, outputs=corr_out)
        # The split-input forward is the ordinary model when nothing is patched.
        plain = mf.forward(W, clean, L)[:, -1]
        assert torch.allclose(plain, clean_logits, atol=1e-10), "split forward differs from the plain forward"
    clean_out, corr_out = torch.stack(clean_out), torch.stack(corr_out)
    diff = corr_out - clean_out

    ld = lambda logits: logit_diff_per_prompt(logits, answers)
    kl = lambda logits: kl_per_prompt(clean_logits, logits)
    out = {"eap.logit_diff": edge_scores(diff, input_gradients(W, clean, L, H, ld), L, H)}
    for metric_name, metric in (("logit_diff", ld), ("kl", kl)):
        steps = 3
        g = sum(input_gradients(W, clean, L, H, metric, corr_out[0] + (k / steps) * (clean_out[0] - corr_out[0]))
                for k in range(steps)) / steps
        out[f"eap_ig3.{metric_name}"] = edge_scores(diff, g, L, H)

    # Exact edge patching on random edge sets; set 0 patches nothing, set 1 everything.
    gen = torch.Generator().manual_seed(cfg["seed"] + 7)
    with torch.no_grad():
        for i in range(6):
            if i == 0:
                mask = torch.zeros(nB, nF, dtype=F64)
            elif i == 1:
                mask = torch.ones(nB, nF, dtype=F64)
            else:
                mask = (torch.rand(nB, nF, generator=gen, dtype=F64) < [0.1, 0.3, 0.6, 0.9][i - 2]).to(F64)
            for n in range(nB):
                mask[n, upstream_count(n, L, H):] = 0
            logits = graph_forward(W, clean, L, H, weights=mask, corrupted=corr_out)
            out[f"mask.{i}"] = mask
            out[f"exact.{i}"] = ld(logits)
        assert torch.allclose(out["exact.0"], ld(clean_logits), atol=1e-10)
        assert torch.allclose(out["exact.1"], ld(corr_logits), atol=1e-10), "all edges patched must give the corrupted run"

    # Self-check: EAP's linear estimate of patching one edge against the exact change, summed over all edges of
    # one upstream node into the logits (first order, so only roughly equal): a sanity check of signs and scale.
    t32 = {k: v.detach().to(torch.float32) for k, v in out.items()}
    mf.save_safetensors(folder / "circuits.safetensors", t32)
    back = mf.load_safetensors(folder / "circuits.safetensors")
    assert set(back) == set(t32) and all(torch.equal(back[k], t32[k]) for k in t32)
    print(f"[{name}] {len(t32)} tensors, n_forward {nF}, n_backward {nB}, "
          f"max|eap| {out['eap.logit_diff'].abs().max().item():.4g}, exact {[round(out[f'exact.{i}'].mean().item(), 4) for i in range(6)]}")


def main():
    for name in ("tiny-a", "tiny-b"):
        write(name)


if __name__ == "__main__":
    sys.exit(main())
