"""Cross-check the fixtures against Hugging Face transformers' own GPT2LMHeadModel (where transformers is installed).

Loads each fixture checkpoint with transformers, runs the clean tokens and compares the logits with the
golden_raw.safetensors written by make_fixtures.py. Usage: python3 tests/reference/check_against_transformers.py
"""
import json, os, sys
import torch
from safetensors.torch import load_file
from transformers import GPT2LMHeadModel

root = os.path.join(os.path.dirname(__file__), "..", "SharpLens.Tests", "fixtures")
worst_all = 0.0
for name in sorted(os.listdir(root)):
    folder = os.path.join(root, name)
    model = GPT2LMHeadModel.from_pretrained(folder, torch_dtype=torch.float32).eval()
    tokens = torch.tensor(json.load(open(os.path.join(folder, "tokens.json")))["clean"])
    with torch.no_grad():
        logits = model(tokens).logits
    golden = load_file(os.path.join(folder, "golden_raw.safetensors"))["logits"]
    worst = (logits - golden).abs().max().item()
    worst_all = max(worst_all, worst)
    print(f"{name}: transformers {model.config.architectures} vs golden_raw logits max |diff| = {worst:.2e}")
sys.exit(0 if worst_all < 1e-4 else 1)
