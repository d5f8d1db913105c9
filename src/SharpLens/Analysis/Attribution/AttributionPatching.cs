using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
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
    /// <summary>One grid per swept activation, keyed by sweep name (e.g. "resid_pre", "head_out"), each laid out as the
    /// same sweep's exact patching grid.</summary>
    public required IReadOnlyDictionary<string, Grid> Grids { get; init; }
    /// <summary>Metric on the clean and corrupted runs (mean over prompts, and per prompt).</summary>
    public required float CleanMetric { get; init; }
    /// <summary>Mean metric on the corrupted run: the baseline every estimate is a change from.</summary>
    public required float CorruptedMetric { get; init; }
    /// <summary>[batch] metric of each prompt on the clean run.</summary>
    public required float[] CleanPerPrompt { get; init; }
    /// <summary>[batch] metric of each prompt on the corrupted run.</summary>
    public required float[] CorruptedPerPrompt { get; init; }
    /// <summary>d(mean metric)/d activation on the corrupted run, when <see cref="AttributionOptions.KeepGradients"/>.</summary>
    public GradientCache? Gradients { get; init; }

    /// <summary>The grid of sweep <paramref name="key"/>; an unknown key is an <see cref="InvalidInputException"/> listing the available ones.</summary>
    public Grid this[string key] => Grids.TryGetValue(key, out var g) ? g
        : throw new InvalidInputException($"no attribution grid '{key}': available {string.Join(", ", Grids.Keys.Take(20))}");

    /// <summary>Exact patching grid (raw metric after patching) minus this run's corrupted baseline: exact change, comparable to the grids here.</summary>
    public Grid ExactChange(Grid exactPatched) => AttributionAgreement.ExactChange(exactPatched, CorruptedMetric, CorruptedPerPrompt);

    /// <summary>A grid as a RAW patched metric, the units exact patching reports: the corrupted baseline plus the
    /// estimated change (per prompt too).</summary>
    public Grid Raw(string key) => AttributionAgreement.AddBaseline(this[key], CorruptedPerPrompt);

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
    /// <summary>Hooks whose clean and corrupted values attribution patching reads.</summary>
    public static IReadOnlyList<string> AttributedHooks(int nLayers)
    {
        var names = new List<string>();
        for (int l = 0; l < nLayers; l++)
        {
            foreach (var activation in PatchSite.Activations) names.Add(HookNames.GetActName(activation, l));
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
        var runs = AttributionRuns.Run(model, clean, corrupted, metric, options.LogitGradient, options.KeepGradients);
        var grids = Compute(model, corrupted, runs.SourceCache, runs.TargetCache, runs.Gradients, options, PositionLabels(model, clean));
        return new AttributionResult
        {
            Grids = grids,
            CleanPerPrompt = runs.SourceMetric, CorruptedPerPrompt = runs.TargetMetric,
            CleanMetric = Mean(runs.SourceMetric), CorruptedMetric = Mean(runs.TargetMetric),
            Gradients = options.KeepGradients ? runs.Gradients : null,
        };
    }

    /// <summary>
    /// The attribution grids from caches that hold <see cref="AttributedHooks"/> (clean and corrupted) and the
    /// gradient of the mean metric on the corrupted run: the named sweeps of <see cref="SweepNames"/> (over the
    /// positions every prompt has) estimated by <see cref="AttributionRuns.Contract(ModelConfig, PatchSweep, TokenBatch, ActivationCache, ActivationCache, GradientCache)"/>.
    /// </summary>
    public static Dictionary<string, Grid> Compute(HookedTransformer model, TokenBatch tokens, ActivationCache clean,
        ActivationCache corrupted, GradientCache grads, AttributionOptions? options = null) =>
        Compute(model, tokens, clean, corrupted, grads, options ?? new AttributionOptions(), PositionLabels(model, tokens));

    private static Dictionary<string, Grid> Compute(HookedTransformer model, TokenBatch tokens, ActivationCache clean,
        ActivationCache corrupted, GradientCache grads, AttributionOptions options, IReadOnlyList<string> labels)
    {
        var cfg = model.Config;
        var axis = PositionAxis.Build(tokens, new PatchingOptions { StrTokens = labels.Select(l => l[..l.LastIndexOf('_')]).ToArray() });
        var grids = new Dictionary<string, Grid>(StringComparer.Ordinal);
        void Add(string key, PatchSweep sweep)
        {
            var grid = Grid.FromPerPrompt(AttributionRuns.Contract(cfg, sweep, tokens, clean, corrupted, grads), sweep.Rows, sweep.Cols);
            grids[key] = new Grid(grid.Values, grid.Rows, grid.Cols, grid.PerPrompt)
                { Title = $"attribution patching: {key}", RowTitle = sweep.RowTitle, ColTitle = sweep.ColTitle };
        }
        PatchSweep Named(string name, IReadOnlyList<int>? layers = null) => SweepNames.Build(name, cfg, axis.Columns, axis.Labels, layers);

        foreach (var name in SweepNames.ByPosition) Add(name, Named(name));
        foreach (var name in SweepNames.Heads) Add(name, Named(name));
        if (options.HeadsByPosition)
            foreach (var name in SweepNames.HeadsByPosition) Add(name, Named(name));
        Add(SweepNames.Neurons, Named(SweepNames.Neurons));
        for (int l = 0; l < cfg.NLayers; l++)
        {
            // Rows of the all-layer neuron grid, one grid per layer (the CLI's neurons_L{l}).
            var all = grids[SweepNames.Neurons];
            grids[$"neurons_L{l}"] = RowOf(all, l, $"neurons_L{l}");
            if (options.NeuronsByPosition)
            {
                var sites = new List<PatchSite>(axis.Count * cfg.DMlp);
                foreach (int p in axis.Columns)
                    for (int n = 0; n < cfg.DMlp; n++) sites.Add(PatchSite.Neuron(l, n, p));
                Add($"neurons_by_pos_L{l}", new PatchSweep($"neurons_by_pos_L{l}", axis.Labels, all.Cols, sites, "position", "neuron"));
            }
        }
        return grids;
    }

    /// <summary>Row <paramref name="row"/> of <paramref name="grid"/> as a one-row grid (per prompt too).</summary>
    private static Grid RowOf(Grid grid, int row, string key)
    {
        int cols = grid.Cols.Count, prompts = grid.PerPrompt?.Dim(0) ?? 0;
        var values = new Tensor(grid.Values.Data.AsSpan(row * cols, cols).ToArray(), 1, cols);
        Tensor? pp = null;
        if (grid.PerPrompt is { } per)
        {
            pp = Tensor.Zeros(prompts, 1, cols);
            for (int p = 0; p < prompts; p++)
                per.Data.AsSpan((p * grid.Rows.Count + row) * cols, cols).CopyTo(pp.Data.AsSpan(p * cols));
        }
        return new Grid(values, [grid.Rows[row]], grid.Cols, pp) { Title = $"attribution patching: {key}", RowTitle = grid.RowTitle, ColTitle = grid.ColTitle };
    }

    private static float Mean(float[] x)
    {
        double s = 0; foreach (var v in x) s += v;
        return (float)(s / x.Length);
    }
}
