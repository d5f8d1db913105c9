using SharpLens.Analysis.Metrics;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Analysis.Attribution;

/// <summary>Options of <see cref="AttributionPatching.Run"/>.</summary>
public sealed record AttributionOptions
{
    /// <summary>Also build the [position x neuron] grids "neurons_by_pos_L{l}" (per prompt: batch·pos·d_mlp per layer).</summary>
    public bool NeuronsByPosition { get; init; } = true;
    /// <summary>Also build the per-position head grids "head_out_by_pos", "head_q_by_pos", ... (rows "{layer}/{position label}" layer-major, cols heads: the layout of ActivationPatcher.HeadsByPosition).</summary>
    public bool HeadsByPosition { get; init; } = true;
    /// <summary>d(mean metric)/d final logits for metrics <see cref="MetricGradient"/> does not know.</summary>
    public MetricGradient.LogitGradient? LogitGradient { get; init; }
    /// <summary>Keep the backward pass's gradients in the result (every hook's d metric / d activation).</summary>
    public bool KeepGradients { get; init; }
}

/// <summary>
/// Attribution patching results. Every grid holds the estimated RAW metric change (patched - corrupted) of patching
/// the clean activation into the corrupted run, mean over prompts in <see cref="Grid.Values"/> and per prompt in
/// <see cref="Grid.PerPrompt"/>. Compare with exact patching through <see cref="ExactChange"/>.
/// </summary>
public sealed class AttributionResult
{
    public required IReadOnlyDictionary<string, Grid> Grids { get; init; }
    /// <summary>Metric on the clean and corrupted runs (mean over prompts, and per prompt).</summary>
    public required float CleanMetric { get; init; }
    public required float CorruptedMetric { get; init; }
    public required float[] CleanPerPrompt { get; init; }
    public required float[] CorruptedPerPrompt { get; init; }
    /// <summary>d(mean metric)/d activation on the corrupted run, when <see cref="AttributionOptions.KeepGradients"/>.</summary>
    public GradientCache? Gradients { get; init; }

    public Grid this[string key] => Grids.TryGetValue(key, out var g) ? g
        : throw new InvalidInputException($"no attribution grid '{key}': available {string.Join(", ", Grids.Keys.Take(20))}");

    /// <summary>Exact patching grid (raw metric after patching) minus this run's corrupted baseline: exact change, comparable to the grids here.</summary>
    public Grid ExactChange(Grid exactPatched) => AttributionAgreement.ExactChange(exactPatched, CorruptedMetric, CorruptedPerPrompt);

    /// <summary>A grid normalized as a patching score: estimate / (clean - corrupted).</summary>
    public Grid Normalized(string key)
    {
        var g = this[key];
        double denom = CleanMetric - (double)CorruptedMetric;
        if (denom == 0) throw new InvalidInputException("clean and corrupted metrics are equal: the normalized score is undefined");
        var v = g.Values.Clone(); TensorPrimitives.Multiply(v.Data, (float)(1 / denom), v.Data);
        Tensor? pp = g.PerPrompt?.Clone();
        if (pp is not null) TensorPrimitives.Multiply(pp.Data, (float)(1 / denom), pp.Data);
        return new Grid(v, g.Rows, g.Cols, pp) { Title = g.Title, RowTitle = g.RowTitle, ColTitle = g.ColTitle };
    }
}

/// <summary>
/// Attribution patching (Nanda): a first-order estimate of activation patching from two forwards (clean; corrupted
/// with cache) and one backward on the corrupted run: estimate = Σ_inner (clean_act - corrupted_act) · d metric / d act.
/// Prompts are independent, so the gradient of the MEAN metric times batch gives per-prompt estimates.
/// </summary>
/// <remarks>
/// Grid keys (same names as the patching command): resid_pre, resid_mid, resid_post, attn_out, mlp_out [layer, pos];
/// head_out (z), head_q, head_k, head_v, head_pattern [layer, head]; head_out_by_pos, head_q_by_pos, head_k_by_pos,
/// head_v_by_pos, head_pattern_by_pos (destination position) [layer x pos, head] (rows "{l}/{position label}"); neurons [layer, neuron]; neurons_L{l} [1 row "{l}", neuron];
/// neurons_by_pos_L{l} [pos, neuron]. Row labels are layers "0"..; columns are positions "token_index" (see
/// <see cref="PositionLabels"/>), heads "0".. or neurons "0"...
/// </remarks>
public static class AttributionPatching
{
    private static readonly (string Key, Func<int, string> Hook)[] LayerOutputs =
    [
        ("resid_pre", HookNames.ResidPre), ("resid_mid", HookNames.ResidMid), ("resid_post", HookNames.ResidPost),
        ("attn_out", HookNames.AttnOut), ("mlp_out", HookNames.MlpOut),
    ];

    private static readonly (string Key, Func<int, string> Hook)[] HeadActs =
        [("head_out", HookNames.Z), ("head_q", HookNames.Q), ("head_k", HookNames.K), ("head_v", HookNames.V)];

    /// <summary>Hooks whose clean and corrupted values attribution patching reads.</summary>
    public static IReadOnlyList<string> AttributedHooks(int nLayers)
    {
        var names = new List<string>();
        for (int l = 0; l < nLayers; l++)
        {
            foreach (var (_, hook) in LayerOutputs) names.Add(hook(l));
            foreach (var (_, hook) in HeadActs) names.Add(hook(l));
            names.Add(HookNames.Pattern(l));
            names.Add(HookNames.MlpPost(l));
        }
        return names;
    }

    /// <summary>"token_index" labels of the first prompt's positions, e.g. "&lt;|endoftext|&gt;_0", " We_1" (token ids when the model has no tokenizer).</summary>
    public static IReadOnlyList<string> PositionLabels(HookedTransformer model, TokenBatch tokens)
    {
        var ids = tokens.Ids.AsSpan(0, tokens.Pos).ToArray();
        string[] strs = model.Tokenizer is { } tok && ids.All(i => (uint)i < (uint)tok.VocabSize)
            ? tok.ToStrTokens(ids) : ids.Select(i => i.ToString()).ToArray();
        return strs.Select((s, i) => $"{s}_{i}").ToArray();
    }

    /// <summary>Two forwards (clean, corrupted), one backward (corrupted), and every attribution grid.</summary>
    public static AttributionResult Run(HookedTransformer model, TokenBatch clean, TokenBatch corrupted, IMetric metric,
        AttributionOptions? options = null)
    {
        options ??= new AttributionOptions();
        if (clean.Batch != corrupted.Batch || clean.Pos != corrupted.Pos || !clean.Lengths.SequenceEqual(corrupted.Lengths))
            throw new InvalidInputException($"clean [{clean.Batch}, {clean.Pos}] and corrupted [{corrupted.Batch}, {corrupted.Pos}] prompts must have the same shape and lengths for attribution patching");
        var cfg = model.Config;
        int L = cfg.NLayers, batch = clean.Batch;
        var attributed = AttributedHooks(L);
        var cleanNames = new HashSet<string>(attributed, StringComparer.Ordinal);
        var corruptedNames = new HashSet<string>(attributed.Concat(TransformerBackward.RequiredHooks(L)), StringComparer.Ordinal);

        var cleanCache = new ActivationCache(model);
        var cleanNorm = model.Run(clean, new ForwardOptions { Cache = cleanCache, CacheFilter = cleanNames.Contains, Logits = LogitsMode.None });
        var corrCache = new ActivationCache(model);
        var corrNorm = model.Run(corrupted, new ForwardOptions { Cache = corrCache, CacheFilter = corruptedNames.Contains, Logits = LogitsMode.None });

        var cleanRows = HookedTransformer.GatherFinal(cleanNorm, clean);
        var corrRows = HookedTransformer.GatherFinal(corrNorm, corrupted);
        var cleanPer = metric.PerPrompt(MetricGradient.FinalLogits(model, cleanRows, batch, metric.NeededTokens));
        var corrPer = metric.PerPrompt(MetricGradient.FinalLogits(model, corrRows, batch, metric.NeededTokens));

        var dFinal = MetricGradient.ForFinalNormalized(model, metric, corrRows, batch, options.LogitGradient);
        Func<string, bool> keep = options.KeepGradients ? _ => true : cleanNames.Contains;
        var grads = TransformerBackward.FromFinalPositions(model, corrCache, corrupted, dFinal, keep);

        var grids = Compute(model, clean, cleanCache, corrCache, grads, options);
        return new AttributionResult
        {
            Grids = grids,
            CleanPerPrompt = cleanPer, CorruptedPerPrompt = corrPer,
            CleanMetric = Mean(cleanPer), CorruptedMetric = Mean(corrPer),
            Gradients = options.KeepGradients ? grads : null,
        };
    }

    /// <summary>
    /// The attribution grids from caches that hold <see cref="AttributedHooks"/> (clean and corrupted) and the
    /// gradient of the mean metric on the corrupted run.
    /// </summary>
    public static Dictionary<string, Grid> Compute(HookedTransformer model, TokenBatch tokens, ActivationCache clean,
        ActivationCache corrupted, GradientCache grads, AttributionOptions? options = null)
    {
        options ??= new AttributionOptions();
        var cfg = model.Config;
        int L = cfg.NLayers, H = cfg.NHeads, dh = cfg.DHead, dMlp = cfg.DMlp, d = cfg.DModel;
        int B = tokens.Batch, P = tokens.Pos;
        float scale = B; // gradient of the mean · batch = per-prompt gradient
        var layers = Labels(L);
        var positions = PositionLabels(model, tokens);
        var heads = Labels(H);
        var layerPositionRows = Enumerable.Range(0, L * P).Select(i => $"{i / P}/{positions[i % P]}").ToArray();
        var neurons = Labels(dMlp);
        var grids = new Dictionary<string, Grid>(StringComparer.Ordinal);
        Tensor Act(ActivationCache c, string n) => c.TryGet(n, out var t) ? t
            : throw new InvalidInputException($"attribution patching needs '{n}' in the cache");

        // Per-prompt Σ_inner (clean - corrupted)·grad over contiguous chunks of `inner` floats: [chunks].
        float[] Contract(string hook, int inner)
        {
            var c = Act(clean, hook).Data; var k = Act(corrupted, hook).Data; var g = grads[hook].Data;
            int chunks = c.Length / inner;
            var result = new float[chunks];
            var diff = new float[inner];
            for (int i = 0; i < chunks; i++)
            {
                TensorPrimitives.Subtract(c.AsSpan(i * inner, inner), k.AsSpan(i * inner, inner), diff);
                result[i] = scale * TensorPrimitives.Dot(diff, g.AsSpan(i * inner, inner));
            }
            return result;
        }

        foreach (var (key, hook) in LayerOutputs)
        {
            var pp = new float[B * L * P];
            for (int l = 0; l < L; l++)
            {
                var v = Contract(hook(l), d); // [B, P]
                for (int b = 0; b < B; b++) v.AsSpan(b * P, P).CopyTo(pp.AsSpan((b * L + l) * P));
            }
            grids[key] = Titled(Grid.FromPerPrompt(new Tensor(pp, B, L, P), layers, positions), key, "layer", "position");
        }

        foreach (var (key, hook) in HeadActs)
        {
            var all = new float[B * L * H];
            var byPos = new float[B * L * H * P];
            for (int l = 0; l < L; l++)
            {
                var v = Contract(hook(l), dh); // [B, P, H]
                for (int b = 0; b < B; b++)
                    for (int p = 0; p < P; p++)
                        for (int h = 0; h < H; h++)
                        {
                            float x = v[(b * P + p) * H + h];
                            all[(b * L + l) * H + h] += x;
                            byPos[((b * L + l) * P + p) * H + h] = x;
                        }
            }
            grids[key] = Titled(Grid.FromPerPrompt(new Tensor(all, B, L, H), layers, heads), key, "layer", "head");
            if (options.HeadsByPosition)
                grids[key + "_by_pos"] = Titled(Grid.FromPerPrompt(new Tensor(byPos, B, L * P, H), layerPositionRows, heads), key + "_by_pos", "layer/position", "head");
        }

        {
            var all = new float[B * L * H];
            var byPos = new float[B * L * P * H];
            for (int l = 0; l < L; l++)
            {
                var v = Contract(HookNames.Pattern(l), P); // [B, H, query]: one destination row at a time
                for (int b = 0; b < B; b++)
                    for (int h = 0; h < H; h++)
                        for (int q = 0; q < P; q++)
                        {
                            float x = v[(b * H + h) * P + q];
                            all[(b * L + l) * H + h] += x;
                            byPos[((b * L + l) * P + q) * H + h] = x;
                        }
            }
            grids["head_pattern"] = Titled(Grid.FromPerPrompt(new Tensor(all, B, L, H), layers, heads), "head_pattern", "layer", "head");
            if (options.HeadsByPosition)
                grids["head_pattern_by_pos"] = Titled(Grid.FromPerPrompt(new Tensor(byPos, B, L * P, H), layerPositionRows, heads), "head_pattern_by_pos", "layer/position", "head");
        }

        {
            var all = new float[B * L * dMlp];
            var prod = new float[dMlp];
            for (int l = 0; l < L; l++)
            {
                string hook = HookNames.MlpPost(l);
                var c = Act(clean, hook).Data; var k = Act(corrupted, hook).Data; var g = grads[hook].Data;
                var byPos = options.NeuronsByPosition ? new float[B * P * dMlp] : null;
                var one = new float[B * dMlp];
                for (int b = 0; b < B; b++)
                    for (int p = 0; p < P; p++)
                    {
                        int off = (b * P + p) * dMlp;
                        TensorPrimitives.Subtract(c.AsSpan(off, dMlp), k.AsSpan(off, dMlp), prod);
                        TensorPrimitives.Multiply(prod, g.AsSpan(off, dMlp), prod);
                        TensorPrimitives.Multiply(prod, scale, prod);
                        var acc = one.AsSpan(b * dMlp, dMlp);
                        TensorPrimitives.Add(acc, prod, acc);
                        if (byPos is not null) prod.CopyTo(byPos.AsSpan(off));
                    }
                for (int b = 0; b < B; b++) one.AsSpan(b * dMlp, dMlp).CopyTo(all.AsSpan((b * L + l) * dMlp));
                grids[$"neurons_L{l}"] = Titled(Grid.FromPerPrompt(new Tensor(one, B, 1, dMlp), [$"{l}"], neurons), $"neurons_L{l}", "layer", "neuron");
                if (byPos is not null)
                    grids[$"neurons_by_pos_L{l}"] = Titled(Grid.FromPerPrompt(new Tensor(byPos, B, P, dMlp), positions, neurons), $"neurons_by_pos_L{l}", "position", "neuron");
            }
            grids["neurons"] = Titled(Grid.FromPerPrompt(new Tensor(all, B, L, dMlp), layers, neurons), "neurons", "layer", "neuron");
        }
        return grids;
    }

    private static Grid Titled(Grid g, string key, string rowTitle, string colTitle) =>
        new(g.Values, g.Rows, g.Cols, g.PerPrompt) { Title = $"attribution patching: {key}", RowTitle = rowTitle, ColTitle = colTitle };

    private static string[] Labels(int n) => Enumerable.Range(0, n).Select(i => i.ToString()).ToArray();

    private static float Mean(float[] x)
    {
        double s = 0; foreach (var v in x) s += v;
        return (float)(s / x.Length);
    }
}
