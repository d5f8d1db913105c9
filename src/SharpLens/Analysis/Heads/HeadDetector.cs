using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Heads;

/// <summary>How a head's attention pattern is compared with a detection pattern (TransformerLens' <c>error_measure</c>).</summary>
public enum DetectionErrorMeasure
{
    /// <summary><c>"mul"</c> (the default): Σ attention·detection / Σ attention, the share of the head's attention that
    /// falls where the detection pattern is 1, in [0, 1].</summary>
    Mul,
    /// <summary><c>"abs"</c>: 1 − round(Σ|attention − detection| / n, 3), one minus the mean L1 distance per query row,
    /// in (−1, 1]; 1 is a perfect match.</summary>
    Abs,
}

/// <summary>Options of <see cref="HeadDetector"/>, in TransformerLens' <c>detect_head</c> names.</summary>
public sealed record HeadDetectionOptions
{
    /// <summary><c>exclude_bos</c>: ignore attention paid to position 0 (the BOS token).</summary>
    public bool ExcludeBos { get; init; }
    /// <summary><c>exclude_current_token</c>: ignore attention a position pays to itself.</summary>
    public bool ExcludeCurrentToken { get; init; }
    /// <summary><c>error_measure</c>.</summary>
    public DetectionErrorMeasure ErrorMeasure { get; init; } = DetectionErrorMeasure.Mul;
    /// <summary><c>heads</c>: only these heads are scored; every other head scores −1. Null: all heads.</summary>
    public IReadOnlyCollection<HeadId>? Heads { get; init; }
}

/// <summary>
/// TransformerLens' <c>head_detector.detect_head</c>: runs the model on each sequence, and scores every head's attention
/// pattern [q, k] (blocks.{l}.attn.hook_pattern) against a detection pattern of the same sequence
/// (<see cref="DetectionPatterns"/> or any [n, n] lower-triangular matrix). With several sequences the score is the mean
/// of the per-sequence scores, as TransformerLens does for a list of strings.
/// Differences from TransformerLens, each on purpose: the options apply to every sequence of a list (TransformerLens'
/// list branch calls itself without <c>heads</c>, <c>exclude_bos</c>, <c>exclude_current_token</c> and
/// <c>error_measure</c>, so they are silently dropped there); excluding tokens does not overwrite the cached pattern
/// (TransformerLens zeroes it in place); a sequence may fill the whole context (TransformerLens asserts
/// 1 &lt; n &lt; n_ctx); sequences run as one right-padded batch (causal attention keeps each one's pattern exact).
/// </summary>
public static class HeadDetector
{
    /// <summary>Scores every head for a named head type: a [layer, head] grid with the per-sequence scores kept.</summary>
    /// <param name="model">the model</param>
    /// <param name="sequences">token ids of each sequence, BOS included when the model expects one (2 ≤ n ≤ n_ctx)</param>
    /// <param name="type">which detection pattern</param>
    /// <param name="options">exclusions, error measure and head subset</param>
    public static Grid Detect(HookedTransformer model, IReadOnlyList<IReadOnlyList<int>> sequences, HeadType type, HeadDetectionOptions? options = null) =>
        Detect(model, sequences, tokens => DetectionPatterns.For(type, tokens), options, DetectionPatterns.Name(type));

    /// <summary>Scores every head against a custom detection pattern: a [layer, head] grid with per-sequence scores.</summary>
    /// <param name="model">the model</param>
    /// <param name="sequences">token ids of each sequence (2 ≤ n ≤ n_ctx)</param>
    /// <param name="pattern">the detection pattern of a sequence: [n, n] row-major, lower triangular</param>
    /// <param name="options">exclusions, error measure and head subset</param>
    /// <param name="name">the pattern's name, used in the grid's title</param>
    public static Grid Detect(HookedTransformer model, IReadOnlyList<IReadOnlyList<int>> sequences, Func<IReadOnlyList<int>, float[]> pattern,
        HeadDetectionOptions? options = null, string name = "custom pattern")
    {
        options ??= new HeadDetectionOptions();
        var cfg = model.Config;
        if (sequences.Count == 0) throw new InvalidInputException("head detection needs at least one sequence");
        var patterns = new float[sequences.Count][];
        for (int s = 0; s < sequences.Count; s++)
        {
            var seq = sequences[s];
            if (seq.Count < 2 || seq.Count > cfg.NCtx)
                throw new InvalidInputException($"sequence {s} has {seq.Count} tokens: head detection needs 2 to {cfg.NCtx} (the model's n_ctx)");
            foreach (int t in seq)
                if ((uint)t >= (uint)cfg.DVocab) throw new InvalidInputException($"sequence {s}: token id {t} is outside the vocabulary (0-{cfg.DVocab - 1})");
            patterns[s] = pattern(seq);
            CheckDetectionPattern(patterns[s], seq.Count, s);
        }
        var wanted = WantedHeads(cfg, options.Heads);
        int L = cfg.NLayers, H = cfg.NHeads;
        var perSequence = Tensor.Zeros(sequences.Count, L, H);
        perSequence.Data.AsSpan().Fill(-1);
        var batch = new TokenBatch(sequences, padId: 0);
        var (_, cache) = model.RunWithCache(batch, n => n.EndsWith("attn.hook_pattern", StringComparison.Ordinal), LogitsMode.None);
        int P = batch.Pos;
        for (int l = 0; l < L; l++)
        {
            var layerPattern = cache[HookNames.Pattern(l)].Data;     // [batch, head, q, k]
            for (int s = 0; s < sequences.Count; s++)
            {
                int n = sequences[s].Count;
                var attention = new float[n * n];
                for (int h = 0; h < H; h++)
                {
                    if (!wanted[l, h]) continue;
                    for (int q = 0; q < n; q++)
                        layerPattern.AsSpan((((s * H) + h) * P + q) * P, n).CopyTo(attention.AsSpan(q * n, n));
                    perSequence.Data[(s * L + l) * H + h] = (float)Score(attention, patterns[s], n, options);
                }
            }
        }
        var grid = Grid.FromPerPrompt(perSequence, Enumerable.Range(0, L).Select(l => l.ToString()).ToList(), Enumerable.Range(0, H).Select(h => h.ToString()).ToList());
        return new Grid(grid.Values, grid.Rows, grid.Cols, grid.PerPrompt) { Title = $"{name} score", RowTitle = "layer", ColTitle = "head" };
    }

    /// <summary>
    /// TransformerLens' <c>compute_head_attention_similarity_score</c> for one head on one sequence.
    /// </summary>
    /// <param name="attention">the head's pattern [n, n] (query row, key column); not modified</param>
    /// <param name="detection">the detection pattern [n, n]</param>
    /// <param name="n">sequence length</param>
    /// <param name="options">exclusions and error measure</param>
    public static double Score(ReadOnlySpan<float> attention, ReadOnlySpan<float> detection, int n, HeadDetectionOptions options)
    {
        if (attention.Length != n * n || detection.Length != n * n)
            throw new ShapeMismatchException($"attention ({attention.Length}) and detection ({detection.Length}) patterns must both be [{n}, {n}]");
        bool Excluded(int q, int k) => (options.ExcludeBos && k == 0) || (options.ExcludeCurrentToken && q == k);
        if (options.ErrorMeasure == DetectionErrorMeasure.Mul)
        {
            double matched = 0, total = 0;
            for (int q = 0; q < n; q++)
                for (int k = 0; k < n; k++)
                {
                    if (Excluded(q, k)) continue;
                    double a = attention[q * n + k];
                    matched += a * detection[q * n + k];
                    total += a;
                }
            return matched / total;      // NaN when nothing is left, as TransformerLens' 0/0
        }
        double distance = 0;
        for (int q = 0; q < n; q++)
            for (int k = 0; k < n; k++)
                if (!Excluded(q, k)) distance += Math.Abs(attention[q * n + k] - detection[q * n + k]);
        // abs_diff.mean() * size = Σ|Δ| / n², times n; TransformerLens rounds it to 3 decimals.
        return 1 - Math.Round(distance / n, 3, MidpointRounding.ToEven);
    }

    /// <summary>The detection patterns TransformerLens accepts: [n, n] and lower triangular.</summary>
    private static void CheckDetectionPattern(float[] detection, int n, int sequence)
    {
        if (detection.Length != n * n)
            throw new InvalidInputException($"sequence {sequence}: the detection pattern has {detection.Length} entries, expected [{n}, {n}] = {n * n}");
        for (int q = 0; q < n; q++)
            for (int k = q + 1; k < n; k++)
                if (detection[q * n + k] != 0)
                    throw new InvalidInputException($"sequence {sequence}: the detection pattern must be lower triangular (a query cannot attend to a later key), but entry ({q}, {k}) is {detection[q * n + k]}");
    }

    private static bool[,] WantedHeads(ModelConfig cfg, IReadOnlyCollection<HeadId>? heads)
    {
        var wanted = new bool[cfg.NLayers, cfg.NHeads];
        if (heads is null)
        {
            for (int l = 0; l < cfg.NLayers; l++)
                for (int h = 0; h < cfg.NHeads; h++) wanted[l, h] = true;
            return wanted;
        }
        foreach (var head in heads) wanted[head.RequireIn(cfg).Layer, head.Head] = true;
        return wanted;
    }
}
