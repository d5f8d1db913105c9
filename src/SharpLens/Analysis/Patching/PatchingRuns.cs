using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// The two unpatched runs every sweep starts from: the source run (whose activations are copied in) and the target
/// run (which is patched), with their activation caches, the target's keys/values and the baseline metrics.
/// </summary>
internal sealed class PatchingRuns
{
    private readonly HookedTransformer _model;
    private readonly UnembedColumns? _needed;

    public PatchingRuns(HookedTransformer model, PatchingInputs inputs, PatchDirection direction)
    {
        _model = model;
        Inputs = inputs;
        bool denoise = direction == PatchDirection.CleanIntoCorrupted;
        Source = denoise ? inputs.Clean : inputs.Corrupted;
        Target = denoise ? inputs.Corrupted : inputs.Clean;
        static bool Filter(string name) => !name.EndsWith(".hook_result", StringComparison.Ordinal);

        SourceCache = new ActivationCache(model);
        var sourceLogits = model.Run(Source, new ForwardOptions { Cache = SourceCache, CacheFilter = Filter, Logits = LogitsMode.Final });
        TargetCache = new ActivationCache(model);
        TargetKv = new KvCache(model.Config, Target.Batch, Target.Pos);
        var targetLogits = model.Run(Target, new ForwardOptions
        {
            Cache = TargetCache, CacheFilter = Filter, KvCache = TargetKv, Logits = LogitsMode.Final,
        });
        SourceBaseline = inputs.Metric.PerPrompt(sourceLogits);
        TargetBaseline = inputs.Metric.PerPrompt(targetLogits);

        Needed = inputs.Metric.NeededTokens?.ToArray();
        if (Needed is not null) _needed = new UnembedColumns(model.UnembedLayer, Needed);
    }

    public PatchingInputs Inputs { get; }
    /// <summary>[prompt, pos] the run activations are taken from.</summary>
    public TokenBatch Source { get; }
    /// <summary>[prompt, pos] the run that is patched.</summary>
    public TokenBatch Target { get; }
    public ActivationCache SourceCache { get; }
    public ActivationCache TargetCache { get; }
    /// <summary>Keys/values of every layer and position of the target run ([prompt, pos, heads·d_head] per layer).</summary>
    public KvCache TargetKv { get; }
    /// <summary>[prompt] metric of the unpatched source and target runs.</summary>
    public float[] SourceBaseline { get; }
    public float[] TargetBaseline { get; }
    /// <summary>Token ids whose logits the metric reads, or null for the full vocabulary.</summary>
    public int[]? Needed { get; }

    /// <summary>Logits at the given row positions of ln_final's output.</summary>
    /// <param name="normalized">ln_final.hook_normalized [rows, pos, d_model]</param>
    /// <param name="finalPositions">[rows] position read in each row</param>
    /// <returns>[rows, Needed.Length] (compact, columns in <see cref="Needed"/> order) or [rows, d_vocab]</returns>
    public Tensor FinalLogits(Tensor normalized, int[] finalPositions)
    {
        int rows = normalized.Dim(0), pos = normalized.Dim(1), d = normalized.Dim(2);
        var x = new float[rows * d];
        for (int r = 0; r < rows; r++) normalized.Data.AsSpan((r * pos + finalPositions[r]) * d, d).CopyTo(x.AsSpan(r * d));
        return _needed is null ? new Tensor(_model.UnembedLayer.Forward(x, rows), rows, _model.Config.DVocab) : _needed.Forward(x, rows);
    }
}
