using SharpLens.Model;

namespace SharpLens.Circuits;

/// <summary>Which input of an attention head an edge feeds (EAP-IG's <c>&lt;q&gt;</c>, <c>&lt;k&gt;</c>, <c>&lt;v&gt;</c>).</summary>
public enum HeadInput
{
    /// <summary>The query input (EAP-IG's <c>&lt;q&gt;</c>).</summary>
    Q = 0,
    /// <summary>The key input (<c>&lt;k&gt;</c>).</summary>
    K = 1,
    /// <summary>The value input (<c>&lt;v&gt;</c>).</summary>
    V = 2,
}

/// <summary>An upstream node: something that writes to the residual stream (<c>input</c>, <c>a{l}.h{h}</c>, <c>m{l}</c>).</summary>
/// <param name="Index">Row of the score matrix (EAP-IG's forward index).</param>
/// <param name="Name">EAP-IG node name.</param>
/// <param name="Layer">Layer of the head or MLP; -1 for <c>input</c>.</param>
/// <param name="Head">Head index, or -1 for <c>input</c> and MLPs.</param>
public sealed record UpstreamNode(int Index, string Name, int Layer, int Head)
{
    /// <summary>True for the token + position embeddings node.</summary>
    public bool IsInput => Layer < 0;
    /// <summary>True for an MLP output.</summary>
    public bool IsMlp => Layer >= 0 && Head < 0;
}

/// <summary>A downstream node: something that reads the residual stream (a head's q, k or v input, an MLP's input, the logits).</summary>
/// <param name="Index">Column of the score matrix (EAP-IG's backward index).</param>
/// <param name="Name">EAP-IG node name (<c>a{l}.h{h}</c>, <c>m{l}</c>, <c>logits</c>).</param>
/// <param name="Layer">Layer; n_layers for <c>logits</c>.</param>
/// <param name="Head">Head index, or -1 for MLPs and logits.</param>
/// <param name="Input">Which head input (only for heads).</param>
/// <param name="UpstreamCount">Number of upstream nodes before it: upstream indices 0..UpstreamCount-1 feed it.</param>
public sealed record DownstreamNode(int Index, string Name, int Layer, int Head, HeadInput? Input, int UpstreamCount)
{
    /// <summary>The name with the head input suffix, as in edge names (<c>a3.h2&lt;v&gt;</c>, <c>m3</c>, <c>logits</c>).</summary>
    public string InputName => Input is { } c ? $"{Name}<{char.ToLowerInvariant(c.ToString()[0])}>" : Name;
    /// <summary>True for a head's q/k/v input.</summary>
    public bool IsHead => Head >= 0;
    /// <summary>True for the logits node.</summary>
    public bool IsLogits => Head < 0 && Input is null && Name == "logits";
}

/// <summary>One edge: <paramref name="Parent"/>'s output added into <paramref name="Child"/>'s input.</summary>
public sealed record Edge(UpstreamNode Parent, DownstreamNode Child)
{
    /// <summary>EAP-IG's edge name: <c>parent-&gt;child</c>, with <c>&lt;q&gt;</c>/<c>&lt;k&gt;</c>/<c>&lt;v&gt;</c> when the child is a head.</summary>
    public string Name => $"{Parent.Name}->{Child.InputName}";
}

/// <summary>
/// The computational graph of a transformer exactly as EAP-IG (Hanna et al. 2024, <c>Graph.from_model</c>) and ACDC define it.
/// Upstream (forward) nodes: <c>input</c> (embed + pos_embed), every head's output <c>a{l}.h{h}</c> (hook_result, without
/// b_O) and every MLP's output <c>m{l}</c>. Downstream (backward) nodes: every head's q, k and v input separately, every
/// MLP's input and <c>logits</c>. An edge joins every upstream node to every later downstream node: heads of layer l read
/// everything before layer l; m{l} also reads layer l's heads in a sequential block (attention then MLP) but not in a
/// parallel one (<c>parallel_attn_mlp</c>: both read resid_pre); logits read everything. With grouped-query attention
/// every query head still has its own k and v input (TransformerLens' ungrouped view, which EAP-IG requires).
/// For GPT-2 small (12 x 12) that is 157 upstream nodes, 445 downstream nodes and 32,491 edges. Indices follow
/// EAP-IG's forward_index / backward_index, so a score matrix is [n_forward, n_backward] in EAP-IG's layout.
/// </summary>
public sealed class CircuitGraph
{
    private readonly Dictionary<string, UpstreamNode> _upstreamByName;
    private readonly Dictionary<string, DownstreamNode> _downstreamByInputName;
    private readonly HashSet<string> _nodeNames;

    /// <summary>The graph of a model with <paramref name="nLayers"/> layers of <paramref name="nHeads"/> heads; with
    /// <paramref name="parallelAttnMlp"/> an MLP does not read its own layer's heads.</summary>
    public CircuitGraph(int nLayers, int nHeads, int dModel, bool parallelAttnMlp = false)
    {
        if (nLayers < 1 || nHeads < 1 || dModel < 1)
            throw new InvalidInputException($"a circuit graph needs at least one layer, head and residual dimension (got {nLayers} layers, {nHeads} heads, d_model {dModel})");
        NLayers = nLayers; NHeads = nHeads; DModel = dModel; ParallelAttnMlp = parallelAttnMlp;
        var up = new List<UpstreamNode> { new(0, "input", -1, -1) };
        for (int l = 0; l < nLayers; l++)
        {
            for (int h = 0; h < nHeads; h++) up.Add(new(up.Count, new HeadId(l, h).EapIgName, l, h));
            up.Add(new(up.Count, $"m{l}", l, -1));
        }
        var down = new List<DownstreamNode>();
        for (int l = 0; l < nLayers; l++)
        {
            int before = 1 + l * (nHeads + 1);
            foreach (var c in new[] { HeadInput.Q, HeadInput.K, HeadInput.V })
                for (int h = 0; h < nHeads; h++) down.Add(new(down.Count, new HeadId(l, h).EapIgName, l, h, c, before));
            down.Add(new(down.Count, $"m{l}", l, -1, null, parallelAttnMlp ? before : before + nHeads));
        }
        down.Add(new(down.Count, "logits", nLayers, -1, null, up.Count));
        Upstream = up;
        Downstream = down;
        _upstreamByName = up.ToDictionary(n => n.Name, StringComparer.Ordinal);
        _downstreamByInputName = down.ToDictionary(n => n.InputName, StringComparer.Ordinal);
        _nodeNames = new HashSet<string>(up.Select(n => n.Name).Concat(down.Select(n => n.Name)), StringComparer.Ordinal);
        var edges = new List<Edge>();
        foreach (var child in down)
            for (int u = 0; u < child.UpstreamCount; u++) edges.Add(new Edge(up[u], child));
        Edges = edges;
        var byName = new Dictionary<string, int>(edges.Count, StringComparer.Ordinal);
        for (int i = 0; i < edges.Count; i++) byName[edges[i].Name] = i;
        EdgeIndexByName = byName;
    }

    /// <summary>The graph of <paramref name="model"/>.</summary>
    public static CircuitGraph For(HookedTransformer model)
    {
        var cfg = model.Config;
        // EAP-IG's graph always has an m{l} per layer; an attention-only model has none, so it is refused rather than
        // given nodes that do not exist.
        if (cfg.AttnOnly)
            throw new InvalidInputException($"circuit discovery does not support attention-only models yet: {cfg.ModelName}'s edge graph would include MLP nodes that do not exist");
        return new(cfg.NLayers, cfg.NHeads, cfg.DModel, cfg.ParallelAttnMlp);
    }

    /// <summary>Number of layers.</summary>
    public int NLayers { get; }
    /// <summary>Heads per layer.</summary>
    public int NHeads { get; }
    /// <summary>True when attention and MLP read the same resid_pre (EAP-IG's cfg <c>parallel_attn_mlp</c>): then m{l}
    /// has no edges from layer l's heads.</summary>
    public bool ParallelAttnMlp { get; }
    /// <summary>Residual stream width (recorded in the JSON cfg; the graph itself does not depend on it).</summary>
    public int DModel { get; }
    /// <summary>Upstream nodes by forward index.</summary>
    public IReadOnlyList<UpstreamNode> Upstream { get; }
    /// <summary>Downstream nodes by backward index.</summary>
    public IReadOnlyList<DownstreamNode> Downstream { get; }
    /// <summary>Every edge, grouped by child in backward-index order, parents in forward-index order.</summary>
    public IReadOnlyList<Edge> Edges { get; }
    /// <summary>Position of each edge in <see cref="Edges"/>, by name.</summary>
    public IReadOnlyDictionary<string, int> EdgeIndexByName { get; }
    /// <summary>EAP-IG's n_forward = 1 + n_layers·(n_heads + 1).</summary>
    public int NForward => Upstream.Count;
    /// <summary>EAP-IG's n_backward = n_layers·(3·n_heads + 1) + 1.</summary>
    public int NBackward => Downstream.Count;
    /// <summary>Node names in EAP-IG's order: input, then per layer its heads and MLP, then logits.</summary>
    public IEnumerable<string> NodeNames => Upstream.Select(n => n.Name).Append("logits");

    /// <summary>Forward index of the head a{layer}.h{head}.</summary>
    public int HeadForward(int layer, int head) { CheckHead(layer, head); return 1 + layer * (NHeads + 1) + head; }
    /// <summary>Forward index of m{layer}.</summary>
    public int MlpForward(int layer) { CheckLayer(layer); return 1 + layer * (NHeads + 1) + NHeads; }
    /// <summary>Backward index of a{layer}.h{head}'s q, k or v input.</summary>
    public int HeadBackward(int layer, int head, HeadInput input) { CheckHead(layer, head); return layer * (3 * NHeads + 1) + (int)input * NHeads + head; }
    /// <summary>Backward index of m{layer}'s input.</summary>
    public int MlpBackward(int layer) { CheckLayer(layer); return layer * (3 * NHeads + 1) + 3 * NHeads; }
    /// <summary>Backward index of the logits.</summary>
    public int LogitsBackward => NBackward - 1;

    /// <summary>True when <paramref name="name"/> is one of the graph's node names.</summary>
    public bool HasNode(string name) => _nodeNames.Contains(name);

    /// <summary>The edge called <paramref name="name"/> (EAP-IG's <c>parent-&gt;child</c>, the names circuit files use),
    /// or a one-line error naming the problem.</summary>
    public Edge Edge(string name)
    {
        if (EdgeIndexByName.TryGetValue(name, out int i)) return Edges[i];
        int arrow = name.IndexOf("->", StringComparison.Ordinal);
        if (arrow < 0) throw new InvalidInputException($"'{name}' is not an edge name: write parent->child, e.g. 'a0.h1->a2.h3<v>' or 'm1->logits'");
        string parent = name[..arrow], child = name[(arrow + 2)..];
        var from = RequireUpstream(parent);
        if (!_downstreamByInputName.ContainsKey(child))
        {
            string bare = child.EndsWith('>') && child.Contains('<') ? child[..child.IndexOf('<')] : child;
            if (!_nodeNames.Contains(bare)) throw new InvalidInputException(UnknownNodeMessage(bare));
            throw new InvalidInputException(bare.StartsWith('a')
                ? $"edge '{name}': a head's input needs <q>, <k> or <v>, e.g. '{parent}->{bare}<v>'"
                : $"edge '{name}': only heads take <q>/<k>/<v>; write '{parent}->{bare}'");
        }
        if (from.Name != parent)
            throw new InvalidInputException($"edge '{name}': edges use EAP-IG node names: write '{from.Name}->{child}'");
        throw new InvalidInputException($"'{name}' is not an edge: {parent} is not before {child} (a head reads only earlier layers; an MLP also reads its own layer's heads{(ParallelAttnMlp ? " except in a parallel block, as here" : "")})");
    }

    /// <summary>The upstream node called <paramref name="name"/>: <c>input</c>, <c>m{layer}</c>, or a head's output in
    /// any form users type (<c>a7.h11</c>, <c>L7H11</c>, <c>7.11</c>: <see cref="ComponentNames"/>); otherwise a one-line error.</summary>
    public UpstreamNode RequireUpstream(string name)
    {
        if (_upstreamByName.TryGetValue(name, out var n)) return n;
        if (name == "logits") throw new InvalidInputException("'logits' has no output: it can only be an edge's child");
        if (ComponentNames.TryParseHeadInput(name, out var head, out var input))
        {
            head.RequireIn(NLayers, NHeads);
            if (input is not null) throw new InvalidInputException($"'{name}' is a head's input: a sender is the head's output, e.g. '{head.EapIgName}'");
            return Upstream[HeadForward(head.Layer, head.Head)];
        }
        return Upstream[MlpForward(RequireMlpLayer(name))];
    }

    /// <summary>The downstream node whose input is named <paramref name="inputName"/>: <c>logits</c>, <c>m{layer}</c>, or
    /// a head's q, k or v input in any head form with EAP-IG's suffix (<c>a7.h11&lt;v&gt;</c>, <c>L7H11&lt;v&gt;</c>);
    /// otherwise a one-line error.</summary>
    public DownstreamNode RequireDownstream(string inputName)
    {
        if (_downstreamByInputName.TryGetValue(inputName, out var n)) return n;
        if (ComponentNames.TryParseHeadInput(inputName, out var head, out var input))
        {
            head.RequireIn(NLayers, NHeads);
            if (input is not char c) throw new InvalidInputException($"'{inputName}' is a head: name its input, e.g. '{head.EapIgName}<v>'");
            var which = c switch { 'q' => HeadInput.Q, 'k' => HeadInput.K, _ => HeadInput.V };
            return Downstream[HeadBackward(head.Layer, head.Head, which)];
        }
        return Downstream[MlpBackward(RequireMlpLayer(inputName))];
    }

    /// <summary>The error message for a node name the graph lacks (layer/head out of range, or unknown).</summary>
    internal string UnknownNodeMessage(string name)
    {
        try
        {
            if (ComponentNames.TryParseHeadInput(name, out var head, out _)) head.RequireIn(NLayers, NHeads);
            else RequireMlpLayer(name);
        }
        catch (InvalidInputException e) { return e.Message; }
        return $"unknown node '{name}': {NodeHint}";
    }

    private string NodeHint => $"nodes are input, a{{layer}}.h{{head}} (a0.h0 to a{NLayers - 1}.h{NHeads - 1}; also written L7H11), m{{layer}} (m0 to m{NLayers - 1}) and logits";

    /// <summary>The layer of an MLP node name <c>m{layer}</c> of this graph, or a one-line error.</summary>
    private int RequireMlpLayer(string name)
    {
        if (name.Length < 2 || name[0] != 'm' || !int.TryParse(name.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int layer))
            throw new InvalidInputException($"unknown node '{name}': {NodeHint}");
        if (layer >= NLayers) throw new InvalidInputException($"node '{name}': layer {layer} does not exist: the model has {NLayers} layers (m0 to m{NLayers - 1})");
        return layer;
    }

    private void CheckLayer(int layer)
    {
        if ((uint)layer >= (uint)NLayers) throw new InvalidInputException($"layer {layer} is out of range: the model has layers 0-{NLayers - 1}");
    }

    private void CheckHead(int layer, int head)
    {
        CheckLayer(layer);
        if ((uint)head >= (uint)NHeads) throw new InvalidInputException($"head {head} is out of range: layers have heads 0-{NHeads - 1}");
    }
}
