"""Reference numbers for SharpLens's optimizer: torch.optim.AdamW, a linear warm-up + cosine schedule (LambdaLR) and
torch.nn.utils.clip_grad_norm_ over a few steps of fixed gradients. Writes fixtures/training/adamw.json.

    python3 tests/reference/make_training_fixtures.py

Two parameters ("decayed", "plain"): "plain" is in a group with weight_decay 0, as SharpLens's default groups put
biases, norms and embeddings. Each step: the gradients are set, clipped to max_norm, and the optimizer steps at the
schedule's learning rate for that step.
"""
import json, math, os
import torch

torch.manual_seed(0)
peak, warmup, total, min_lr, wd, max_norm = 3e-3, 2, 6, 3e-4, 0.1, 0.5
decayed = torch.nn.Parameter(torch.randn(3, 4))
plain = torch.nn.Parameter(torch.randn(5))
initial = {"decayed": decayed.detach().flatten().tolist(), "plain": plain.detach().flatten().tolist()}
opt = torch.optim.AdamW([{"params": [decayed], "weight_decay": wd}, {"params": [plain], "weight_decay": 0.0}],
                        lr=peak, betas=(0.9, 0.999), eps=1e-8)

def lr_at(step):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (peak - min_lr)

steps = []
for step in range(total):
    g1 = torch.randn(3, 4) * (3.0 if step == 1 else 0.3)
    g2 = torch.randn(5) * 0.3
    decayed.grad, plain.grad = g1.clone(), g2.clone()
    norm = torch.nn.utils.clip_grad_norm_([decayed, plain], max_norm)
    for group in opt.param_groups:
        group["lr"] = lr_at(step)
    opt.step()
    steps.append({
        "grad": {"decayed": g1.flatten().tolist(), "plain": g2.flatten().tolist()},
        "grad_norm": float(norm), "lr": lr_at(step),
        "after": {"decayed": decayed.detach().flatten().tolist(), "plain": plain.detach().flatten().tolist()},
        "exp_avg_sq": {"decayed": opt.state[decayed]["exp_avg_sq"].flatten().tolist()},
    })

out = {"torch": torch.__version__, "peak": peak, "warmup": warmup, "total": total, "min_lr": min_lr,
       "weight_decay": wd, "max_norm": max_norm, "shapes": {"decayed": [3, 4], "plain": [5]},
       "initial": initial, "steps": steps}
path = os.path.join(os.path.dirname(__file__), "..", "SharpLens.Tests", "fixtures", "training", "adamw.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
