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
    public PatchingRuns(HookedTransformer model, PatchingInputs inputs, PatchDirection direction)
    {
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
        if (Needed is not null) Columns = new UnembedColumns(model.UnembedLayer, Needed);
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
    /// <summary>The unembedding restricted to <see cref="Needed"/> (packed once per sweep), or null for the full vocabulary.</summary>
    public UnembedColumns? Columns { get; }
}
