#!/usr/bin/env python3
"""Circuit files in the graph JSON of EAP-IG's current `Graph.to_json` / `Graph.from_json` (src/eap/graph.py).

EAP-IG is not installed here; this script rebuilds, from EAP-IG's documented structure, the two things SharpLens must
agree with, using torch the way EAP-IG does (float32 score matrix, bool masks):

* `write`: a file exactly as `Graph.to_json` writes it for a GPT-2-style model (sequential attention then MLP):
  `{"cfg": {n_layers, n_heads, parallel_attn_mlp, d_model}, "nodes": {name: {"in_graph": bool}},
  "edges": {name: {"score": float, "in_graph": bool}}}`, nodes and edges in EAP-IG's insertion order, one line as
  `json.dump` writes it. Scores are seeded float32 normals; the circuit is `apply_topn(n)` followed by `prune()`,
  implemented on the matrices as EAP-IG implements them.
* `check FILE...`: the work `Graph.from_json` does on a file, with the same dictionary indexing and the same torch
  assignments, so a file it would reject (a bare boolean node -> TypeError 'bool' object is not subscriptable;
  "score": null -> TypeError; an unknown node or edge -> KeyError; a missing cfg key -> KeyError) fails here too.

Run with Debian's python (python3-torch):

    /usr/bin/python3 tests/reference/eap_ig_graph_json.py write
    /usr/bin/python3 tests/reference/eap_ig_graph_json.py check tests/SharpLens.Tests/fixtures/eap-ig/*.json

`write` also runs the self-checks: its own files pass `check`, and the old SharpLens format (bare boolean nodes) and
"score": null are rejected. Output is deterministic (seeded, torch.set_num_threads(1)).
"""
import json
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
FIXTURES = Path(__file__).resolve().parents[1] / "SharpLens.Tests" / "fixtures" / "eap-ig"


class GraphShape:
    """Node and edge names of EAP-IG's Graph.from_model, with its forward/backward matrix indices."""

    def __init__(self, cfg):
        # from_model reads exactly these keys (a KeyError when one is missing, as in EAP-IG).
        self.L, self.H, self.parallel, self.d_model = cfg["n_layers"], cfg["n_heads"], cfg["parallel_attn_mlp"], cfg["d_model"]
        if self.parallel:
            raise ValueError("parallel_attn_mlp graphs are not what SharpLens reads or writes")
        L, H = self.L, self.H
        self.n_forward = 1 + L * (H + 1)
        self.n_backward = L * (3 * H + 1) + 1
        self.nodes = ["input"]                  # insertion order of Graph.nodes
        self.forward = {"input": 0}
        self.edges = {}                         # name -> (forward index, backward index), insertion order of Graph.edges
        self.forward_to_backward = torch.zeros((self.n_forward, self.n_backward), dtype=torch.bool)
        residual = ["input"]
        for layer in range(L):
            heads = [f"a{layer}.h{h}" for h in range(H)]
            mlp = f"m{layer}"
            for h, name in enumerate(heads):
                self.nodes.append(name)
                self.forward[name] = 1 + layer * (H + 1) + h
                for c in range(3):
                    self.forward_to_backward[self.forward[name], self.head_backward(layer, c, h)] = True
            self.nodes.append(mlp)
            self.forward[mlp] = 1 + layer * (H + 1) + H
            self.forward_to_backward[self.forward[mlp], self.mlp_backward(layer)] = True
            for parent in residual:
                for h, name in enumerate(heads):
                    for c, letter in enumerate("qkv"):
                        self.edges[f"{parent}->{name}<{letter}>"] = (self.forward[parent], self.head_backward(layer, c, h))
            residual += heads
            for parent in residual:
                self.edges[f"{parent}->{mlp}"] = (self.forward[parent], self.mlp_backward(layer))
            residual.append(mlp)
        for parent in residual:
            self.edges[f"{parent}->logits"] = (self.forward[parent], self.n_backward - 1)
        self.nodes.append("logits")
        self.real_edge_mask = torch.zeros((self.n_forward, self.n_backward), dtype=torch.bool)
        for f, b in self.edges.values():
            self.real_edge_mask[f, b] = True

    def head_backward(self, layer, c, h):
        return layer * (3 * self.H + 1) + c * self.H + h

    def mlp_backward(self, layer):
        return layer * (3 * self.H + 1) + 3 * self.H


def nodes_with_in_and_out(shape, in_graph):
    outgoing = in_graph.any(dim=1)
    ingoing = (in_graph.any(dim=0).float() @ shape.forward_to_backward.float().T) > 0
    ingoing[0] = True                            # the input node counts as having incoming edges
    return outgoing & ingoing


def prune(shape, in_graph, nodes_in_graph):
    """EAP-IG's Graph.prune on the matrices: drop nodes without incoming or outgoing edges, then edges missing a parent
    or child, until nothing changes."""
    while True:
        new_nodes = nodes_with_in_and_out(shape, in_graph)
        same = bool(torch.all(new_nodes == nodes_in_graph))
        nodes_in_graph = new_nodes
        forward_in = nodes_in_graph.float()
        backward_in = nodes_in_graph.float() @ shape.forward_to_backward.float()
        backward_in[-1] = 1                      # the logits node is always present
        in_graph = in_graph & ((forward_in[:, None] * backward_in[None, :]) > 0)
        if same:
            return in_graph, nodes_in_graph


def apply_topn(shape, scores, n):
    """EAP-IG's apply_topn(n, absolute=True, level='edge', reset=True, prune=True)."""
    edge_scores = scores.abs()
    edge_scores[~shape.real_edge_mask] = -torch.inf
    order = torch.argsort(edge_scores.view(-1), descending=True)
    in_graph = torch.zeros_like(shape.real_edge_mask)
    in_graph.view(-1)[order[:n]] = True
    return prune(shape, in_graph, nodes_with_in_and_out(shape, in_graph))


def to_json(cfg, shape, scores, in_graph, nodes_in_graph):
    """Graph.to_json of an edge-level graph (no node scores, no neurons): every node (logits included, always in the
    graph), every edge with its score and in_graph."""
    node_dict = {name: {"in_graph": True if name == "logits" else bool(nodes_in_graph[shape.forward[name]])} for name in shape.nodes}
    edge_dict = {name: {"score": scores[f, b].item(), "in_graph": bool(in_graph[f, b])} for name, (f, b) in shape.edges.items()}
    return {"cfg": dict(cfg), "nodes": node_dict, "edges": edge_dict}


def check(path):
    """What Graph.from_json does with the file; raises what it would raise."""
    with open(path, "r") as f:
        d = json.load(f)
        assert all(k in d.keys() for k in ["cfg", "nodes", "edges"]), "Bad input JSON format - Missing keys"
    shape = GraphShape(d["cfg"])
    nodes_in_graph = torch.zeros(shape.n_forward, dtype=torch.bool)
    nodes_scores = torch.full((shape.n_forward,), float("nan"))
    neurons_in_graph = torch.zeros((shape.n_forward, shape.d_model), dtype=torch.bool)
    for name, node_dict in d["nodes"].items():
        if name == "logits":
            continue
        index = shape.forward[name]                          # KeyError for a node the model does not have
        nodes_in_graph[index] = node_dict["in_graph"]        # TypeError for a bare boolean
        if "score" in node_dict:
            nodes_scores[index] = node_dict["score"]         # TypeError for null
        if "neurons" in node_dict:
            neurons_in_graph[index] = torch.tensor(node_dict["neurons"]).float()
    scores = torch.zeros((shape.n_forward, shape.n_backward))
    in_graph = torch.zeros((shape.n_forward, shape.n_backward), dtype=torch.bool)
    for name, info in d["edges"].items():
        f, b = shape.edges[name]                             # KeyError for an edge the model does not have
        scores[f, b] = info["score"]                         # TypeError for null
        in_graph[f, b] = info["in_graph"]
    return len(d["nodes"]), len(d["edges"]), int(in_graph.sum())


def write():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    # tiny-b's shape (3 layers x 3 heads, d_model 48): the fixture model SharpLens' tests load.
    cfg = {"n_layers": 3, "n_heads": 3, "parallel_attn_mlp": False, "d_model": 48}
    shape = GraphShape(cfg)
    generator = torch.Generator().manual_seed(20250219)
    scores = torch.randn((shape.n_forward, shape.n_backward), generator=generator)
    scores[~shape.real_edge_mask] = 0
    # Values whose text form matters: exponents, an exact zero, a float32 that is not a short decimal.
    scores[shape.edges["input->logits"]] = 3.0e-8
    scores[shape.edges["m2->logits"]] = -1234.5677
    scores[shape.edges["a0.h0->m0"]] = 0.0
    in_graph, nodes_in_graph = apply_topn(shape, scores, 24)
    edge_level = FIXTURES / "eap-ig-current.json"
    with open(edge_level, "w") as f:
        json.dump(to_json(cfg, shape, scores, in_graph, nodes_in_graph), f)
    n_nodes, n_edges, n_in = check(edge_level)
    print(f"wrote {edge_level.relative_to(FIXTURES.parents[2])}: {n_nodes} nodes, {n_edges} edges, {n_in} in the graph")

    # Self-checks: the formats current EAP-IG refuses are refused here too.
    d = json.loads(edge_level.read_text())
    refused = {
        "bare boolean nodes (SharpLens before issue 19)": dict(d, nodes={k: v["in_graph"] for k, v in d["nodes"].items()}),
        "a null score": dict(d, edges=dict(d["edges"], **{"m2->logits": {"score": None, "in_graph": True}})),
        "an unknown edge": dict(d, edges=dict(d["edges"], **{"a5.h0->logits": {"score": 1.0, "in_graph": True}})),
        "no parallel_attn_mlp in cfg": dict(d, cfg={k: v for k, v in d["cfg"].items() if k != "parallel_attn_mlp"}),
    }
    scratch = FIXTURES / "scratch-self-check.json"
    try:
        for what, doc in refused.items():
            scratch.write_text(json.dumps(doc))
            try:
                check(scratch)
            except (TypeError, KeyError) as e:
                print(f"self-check: {what} is refused ({type(e).__name__}: {e})")
            else:
                raise SystemExit(f"self-check failed: a file with {what} passed")
    finally:
        scratch.unlink(missing_ok=True)


def main(argv):
    if argv[:1] == ["write"]:
        write()
    elif argv[:1] == ["check"] and len(argv) > 1:
        for path in argv[1:]:
            n_nodes, n_edges, n_in = check(path)
            print(f"ok: {path} passes Graph.from_json's reading ({n_nodes} nodes, {n_edges} edges, {n_in} in the graph)")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
