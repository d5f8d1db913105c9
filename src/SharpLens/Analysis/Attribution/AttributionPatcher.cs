using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// Attribution patching as a patching engine: two forwards (source, target) and one backward on the target run
/// (the run being patched), then any <see cref="PatchSweep"/> is estimated as target metric + Σ_site (source -
/// target)·d metric / d activation. <see cref="PatchingOptions.Direction"/>, <see cref="PatchingOptions.Alignment"/>,
/// positions and labels mean exactly what they mean for <see cref="ActivationPatcher"/>, so the grids of the two
/// engines carry identical labels and can be compared cell by cell.
/// </summary>
public sealed class AttributionPatcher : IPatchingEngine
{
    private readonly AttributionRuns _runs;
    private readonly PositionAxis _positions;

    /// <summary>Runs the two forwards and the backward pass.</summary>
    /// <param name="model">the model</param>
    /// <param name="inputs">clean and corrupted prompts and the metric</param>
    /// <param name="options">direction, alignment, positions and labels (Method, MaxRowsPerPass are ignored)</param>
    /// <param name="logitGradient">d(mean metric)/d final logits for metrics <see cref="MetricGradient"/> does not know</param>
    public AttributionPatcher(HookedTransformer model, PatchingInputs inputs, PatchingOptions? options = null,
        MetricGradient.LogitGradient? logitGradient = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(inputs);
        Options = options ?? new PatchingOptions();
        bool denoise = Options.Direction == PatchDirection.CleanIntoCorrupted;
        _runs = AttributionRuns.Run(model, denoise ? inputs.Clean : inputs.Corrupted, denoise ? inputs.Corrupted : inputs.Clean,
            inputs.Metric, logitGradient, keepAllGradients: false);
        _positions = PositionAxis.Build(_runs.Target, Options);
        CleanBaseline = denoise ? _runs.SourceMetric : _runs.TargetMetric;
        CorruptedBaseline = denoise ? _runs.TargetMetric : _runs.SourceMetric;
    }

    /// <summary>The model.</summary>
    public HookedTransformer Model { get; }
    /// <summary>The options the engine was built with.</summary>
    public PatchingOptions Options { get; }
    /// <inheritdoc/>
    public float[] CleanBaseline { get; }
    /// <inheritdoc/>
    public float[] CorruptedBaseline { get; }

    /// <inheritdoc/>
    public PatchSweep Sweep(string name, IReadOnlyList<int>? neuronLayers = null, int? neuronPosition = null) =>
        SweepNames.Build(name, Model.Config, _positions.Columns, _positions.Labels, neuronLayers, neuronPosition);

    /// <summary>The estimated change of the metric (patched - target), per prompt, for each site of <paramref name="sweep"/>.</summary>
    public Grid Change(PatchSweep sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var grid = Grid.FromPerPrompt(_runs.Contract(Model.Config, sweep), sweep.Rows, sweep.Cols);
        return new Grid(grid.Values, grid.Rows, grid.Cols, grid.PerPrompt)
            { Title = $"attribution patching: {sweep.Name}", RowTitle = sweep.RowTitle, ColTitle = sweep.ColTitle };
    }

    /// <summary>The estimated RAW metric of each patched run: the target run's metric plus <see cref="Change"/>, the
    /// units <see cref="ActivationPatcher.Run"/> reports.</summary>
    public Grid Run(PatchSweep sweep) => AttributionAgreement.AddBaseline(Change(sweep), _runs.TargetMetric);

    /// <inheritdoc/>
    public Grid Normalize(Grid raw) => PatchingNormalization.Normalize(raw, CleanBaseline, CorruptedBaseline);
}

/// <summary>The source and target runs of attribution patching: their caches, metrics and the target's gradients.</summary>
internal sealed class AttributionRuns
{
    public required TokenBatch Target { get; init; }
    public required ActivationCache SourceCache { get; init; }
    public required ActivationCache TargetCache { get; init; }
    /// <summary>d(mean metric)/d activation on the target run.</summary>
    public required GradientCache Gradients { get; init; }
    /// <summary>[prompt] metric of the source and target runs.</summary>
    public required float[] SourceMetric { get; init; }
    public required float[] TargetMetric { get; init; }

    /// <summary>Hooks whose source and target values attribution patching reads: every patchable activation of every layer
    /// (<see cref="PatchSite.Activations"/>).</summary>
    public static IReadOnlyList<string> AttributedHooks(int nLayers) =>
        Enumerable.Range(0, nLayers).SelectMany(l => PatchSite.Activations.Select(a => HookNames.GetActName(a, l))).ToList();

    /// <summary>Two forwards (source, target caching <see cref="AttributedHooks"/>) and one backward on the target.</summary>
    public static AttributionRuns Run(HookedTransformer model, TokenBatch source, TokenBatch target, Metrics.IMetric metric,
        MetricGradient.LogitGradient? logitGradient, bool keepAllGradients)
    {
        if (source.Batch != target.Batch || source.Pos != target.Pos || !source.Lengths.SequenceEqual(target.Lengths))
            throw new InvalidInputException($"clean [{source.Batch}, {source.Pos}] and corrupted [{target.Batch}, {target.Pos}] prompts must have the same shape and lengths for attribution patching");
        int L = model.Config.NLayers, batch = target.Batch;
        var attributed = AttributedHooks(L);
        var sourceNames = new HashSet<string>(attributed, StringComparer.Ordinal);
        var targetNames = new HashSet<string>(attributed.Concat(model.BackwardHooks()), StringComparer.Ordinal);

        var sourceCache = new ActivationCache(model);
        var sourceNorm = model.Run(source, new ForwardOptions { Cache = sourceCache, CacheFilter = sourceNames.Contains, Logits = LogitsMode.None });
        var targetCache = new ActivationCache(model);
        var targetNorm = model.Run(target, new ForwardOptions { Cache = targetCache, CacheFilter = targetNames.Contains, Logits = LogitsMode.None });

        var sourceRows = HookedTransformer.GatherFinal(sourceNorm, source);
        var targetRows = HookedTransformer.GatherFinal(targetNorm, target);
        var sourceMetric = metric.PerPrompt(MetricGradient.FinalLogits(model, sourceRows, batch, metric.NeededTokens));
        var targetMetric = metric.PerPrompt(MetricGradient.FinalLogits(model, targetRows, batch, metric.NeededTokens));

        var dFinal = MetricGradient.ForFinalNormalized(model, metric, targetRows, batch, logitGradient);
        Func<string, bool> keep = keepAllGradients ? _ => true : sourceNames.Contains;
        var grads = TransformerBackward.FromFinalPositions(model, targetCache, target, dFinal, keep);
        return new AttributionRuns
        {
            Target = target, SourceCache = sourceCache, TargetCache = targetCache, Gradients = grads,
            SourceMetric = sourceMetric, TargetMetric = targetMetric,
        };
    }

    /// <summary>[prompt, rows, cols] estimated metric change of each site: batch · Σ (source - target)·grad (the
    /// gradient of the MEAN metric times the batch is each prompt's own gradient, prompts being independent).</summary>
    public Tensor Contract(ModelConfig config, PatchSweep sweep) =>
        Contract(config, sweep, Target, SourceCache, TargetCache, Gradients);

    /// <inheritdoc cref="Contract(ModelConfig, PatchSweep)"/>
    public static Tensor Contract(ModelConfig config, PatchSweep sweep, TokenBatch target, ActivationCache source,
        ActivationCache targetCache, GradientCache grads) =>
        new SiteContraction(config, target, source, targetCache, grads).Run(sweep);
}
