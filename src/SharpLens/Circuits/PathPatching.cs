using SharpLens.Analysis;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Circuits;

/// <summary>Result of one path patching run.</summary>
/// <param name="PerPrompt">Metric of the patched run, per prompt [prompt].</param>
/// <param name="CleanPerPrompt">Metric of the clean run [prompt].</param>
/// <param name="CorruptedPerPrompt">Metric of the corrupted run [prompt].</param>
public sealed record PathPatchingResult(float[] PerPrompt, float[] CleanPerPrompt, float[] CorruptedPerPrompt)
{
    /// <summary>(mean patched − mean clean) / (mean clean − mean corrupted): −1 when the path carries the whole
    /// clean−corrupted difference, 0 when it carries none.</summary>
    public float Normalized
    {
        get
        {
            double clean = CleanPerPrompt.Average(), gap = clean - CorruptedPerPrompt.Average();
            return gap == 0 ? float.NaN : (float)((PerPrompt.Average() - clean) / gap);
        }
    }
}

/// <summary>
/// Path patching (Wang et al. 2022, the IOI circuit): the senders' outputs are patched from the corrupted run and the
/// effect is measured only through the chosen receivers. Run 1 (clean prompts): sender heads' hook_z and sender MLPs'
/// hook_mlp_out take their corrupted values, every other head is frozen at its clean hook_z; MLPs are recomputed (as in
/// IOI) unless <c>freezeMlps</c>, then frozen clean too. The receivers' inputs are recorded in run 1: a head's hook_q,
/// hook_k or hook_v (that head only), an MLP's ln2.hook_normalized, the logits' ln_final.hook_normalized. Run 2 (clean
/// prompts): only the receivers' inputs are replaced by the recorded ones, everything downstream recomputes.
/// With frozen MLPs, patching senders S into receivers R equals exact edge patching of the edges S→R.
/// </summary>
public sealed class PathPatcher
{
    private readonly HookedTransformer _model;
    private readonly PatchingInputs _inputs;
    private readonly ActivationCache _clean, _corrupted;
    private readonly Model.Components.UnembedColumns? _columns;
    private readonly int[] _finalRows;

    /// <summary>Caches the clean and corrupted runs of <paramref name="inputs"/>.</summary>
    public PathPatcher(HookedTransformer model, PatchingInputs inputs)
    {
        Graph = CircuitGraph.For(model);
        // A receiver a{l}.h{h}<k|v> is query head h's own key/value input, so a grouped-query model is patched in its
        // ungrouped view (EAP-IG's); its runs are the same function.
        _model = model = UngroupedAttention.Of(model); _inputs = inputs;
        Tensor cleanLogits, corruptedLogits;
        (cleanLogits, _clean) = model.RunWithCache(inputs.Clean, IsCached, LogitsMode.Final);
        (corruptedLogits, _corrupted) = model.RunWithCache(inputs.Corrupted, IsCached, LogitsMode.Final);
        CleanPerPrompt = inputs.Metric.PerPrompt(cleanLogits);
        // Run 2 reads only the final positions and, for metrics such as the logit difference, a few unembedding columns.
        _columns = inputs.Metric.NeededTokens is { } needed ? new Model.Components.UnembedColumns(model.UnembedLayer, needed) : null;
        _finalRows = inputs.Clean.Lengths.Select(n => n - 1).ToArray();
        CorruptedPerPrompt = inputs.Metric.PerPrompt(corruptedLogits);
    }

    private static bool IsCached(string name) =>
        name.EndsWith("attn.hook_z", StringComparison.Ordinal) || name.EndsWith("hook_mlp_out", StringComparison.Ordinal)
        || name.EndsWith("hook_resid_pre", StringComparison.Ordinal) || name.EndsWith("hook_resid_post", StringComparison.Ordinal);

    /// <summary>The model's graph (node names for senders and receivers).</summary>
    public CircuitGraph Graph { get; }
    /// <summary>Metric of the clean run [prompt].</summary>
    public float[] CleanPerPrompt { get; }
    /// <summary>Metric of the corrupted run [prompt].</summary>
    public float[] CorruptedPerPrompt { get; }

    /// <summary>Parses sender names (<c>a{l}.h{h}</c>, <c>m{l}</c>) and receiver names (<c>a{l}.h{h}&lt;q|k|v&gt;</c>,
    /// <c>m{l}</c>, <c>logits</c>) with one-line errors for unknown or out-of-range names.</summary>
    public (IReadOnlyList<UpstreamNode> Senders, IReadOnlyList<DownstreamNode> Receivers) Parse(IEnumerable<string> senders, IEnumerable<string> receivers)
    {
        var s = senders.Select(n => Graph.RequireUpstream(n.Trim())).ToList();
        if (s.Any(n => n.IsInput)) throw new InvalidInputException("'input' cannot be a path-patching sender: patch the embeddings with 'sharplens patch' instead");
        var r = receivers.Select(n => Graph.RequireDownstream(n.Trim())).ToList();
        if (s.Count == 0) throw new InvalidInputException("path patching needs at least one sender, e.g. --senders a5.h1,m4");
        if (r.Count == 0) throw new InvalidInputException("path patching needs at least one receiver, e.g. --receivers a7.h11<v> or logits");
        return (s, r);
    }

    /// <summary>Patches <paramref name="senders"/> from the corrupted run and measures the effect through <paramref name="receivers"/> only.</summary>
    public PathPatchingResult Run(IReadOnlyList<UpstreamNode> senders, IReadOnlyList<DownstreamNode> receivers, bool freezeMlps = false)
    {
        int H = _model.Config.NHeads;
        var senderSet = senders.Select(s => s.Index).ToHashSet();
        var freeze = new List<Hook>();
        for (int l = 0; l < _model.Config.NLayers; l++)
        {
            int layer = l;
            freeze.Add(new Hook(HookNames.Z(l), (z, _) =>
            {
                var frozen = _clean[HookNames.Z(layer)].Clone();
                var corrupted = _corrupted[HookNames.Z(layer)];
                for (int h = 0; h < H; h++)
                    if (senderSet.Contains(Graph.HeadForward(layer, h))) CopyHead(corrupted, frozen, h, H);
                return frozen;
            }));
            bool mlpSender = senderSet.Contains(Graph.MlpForward(l));
            if (mlpSender || freezeMlps)
                freeze.Add(new Hook(HookNames.MlpOut(l), (_, _) => (mlpSender ? _corrupted : _clean)[HookNames.MlpOut(layer)].Clone()));
        }
        var receiverHooks = receivers.Select(ReceiverHook).Distinct().ToList();
        var recorded = new ActivationCache(_model);
        // Run 1 stops after the last receiver's layer; run 2 starts at the first receiver's layer from the clean residual
        // (nothing before it is patched).
        int L = _model.Config.NLayers, last = receivers.Max(r => r.Layer), first = receivers.Min(r => r.Layer);
        _model.Run(_inputs.Clean, new ForwardOptions
        {
            Hooks = freeze, Cache = recorded, CacheFilter = receiverHooks.Contains, Logits = LogitsMode.None, StopAtLayer = last < L ? last + 1 : null,
        });

        var patch = new List<Hook>();
        foreach (var group in receivers.GroupBy(ReceiverHook))
        {
            var heads = group.Where(r => r.IsHead).Select(r => r.Head).ToHashSet();
            bool whole = group.Any(r => !r.IsHead);
            var source = recorded[group.Key];
            patch.Add(new Hook(group.Key, (x, _) =>
            {
                if (whole) return source.Clone();
                var y = x.Clone();
                foreach (int h in heads) CopyHead(source, y, h, H);
                return y;
            }));
        }
        var logits = _model.Run(_inputs.Clean, new ForwardOptions
        {
            Hooks = patch, StartAtLayer = first, ResidualInput = first < L ? _clean[HookNames.ResidPre(first)] : _clean[HookNames.ResidPost(L - 1)],
            QueryRows = _finalRows, UnembedColumns = _columns, Logits = LogitsMode.Final,
        });
        return new PathPatchingResult(_inputs.Metric.PerPrompt(logits), CleanPerPrompt, CorruptedPerPrompt);
    }

    /// <summary>
    /// Every head and MLP as a single sender into <paramref name="receivers"/>: a [layer, head | mlp] grid of the
    /// normalized effect (per prompt (patched − clean) / (mean clean − mean corrupted), so the grid's mean is
    /// <see cref="PathPatchingResult.Normalized"/>). Senders at or after
    /// every receiver's layer cannot reach it and are left at 0 without running.
    /// </summary>
    public Grid SweepSenders(IReadOnlyList<DownstreamNode> receivers, bool freezeMlps = false)
    {
        int L = _model.Config.NLayers, H = _model.Config.NHeads, n = CleanPerPrompt.Length;
        float gap = CleanPerPrompt.Average() - CorruptedPerPrompt.Average();
        var perPrompt = Tensor.Zeros(n, L, H + 1);
        foreach (var sender in Graph.Upstream.Where(u => !u.IsInput))
        {
            if (!receivers.Any(r => sender.Index < r.UpstreamCount)) continue;
            var result = Run([sender], receivers, freezeMlps);
            int col = sender.IsMlp ? H : sender.Head;
            for (int p = 0; p < n; p++)
                perPrompt.Data[(p * L + sender.Layer) * (H + 1) + col] = gap == 0 ? 0f : (result.PerPrompt[p] - CleanPerPrompt[p]) / gap;
        }
        var cols = Enumerable.Range(0, H).Select(h => h.ToString()).Append("mlp").ToList();
        string into = string.Join(", ", receivers.Select(r => r.InputName));
        return new Grid(Grid.FromPerPrompt(perPrompt, Enumerable.Range(0, L).Select(l => l.ToString()).ToList(), cols).Values,
            Enumerable.Range(0, L).Select(l => l.ToString()).ToList(), cols, perPrompt)
        { Title = $"Path patching into {into}", RowTitle = "sender layer", ColTitle = "sender head / mlp" };
    }

    private static string ReceiverHook(DownstreamNode r) => r switch
    {
        { IsHead: true, Input: HeadInput.Q } => HookNames.Q(r.Layer),
        { IsHead: true, Input: HeadInput.K } => HookNames.K(r.Layer),
        { IsHead: true } => HookNames.V(r.Layer),
        { IsLogits: true } => HookNames.LnFinalNormalized,
        _ => HookNames.Ln2Normalized(r.Layer),
    };

    // Copies head h's slice of a [batch, pos, n_heads, d_head] tensor.
    private static void CopyHead(Tensor src, Tensor dst, int head, int heads)
    {
        int width = dst.Dim(-1), rows = dst.Length / (heads * width);
        for (int r = 0; r < rows; r++) src.Data.AsSpan((r * heads + head) * width, width).CopyTo(dst.Data.AsSpan((r * heads + head) * width));
    }
}
