using SharpLens.Analysis;
using SharpLens.Analysis.Heads;
using SharpLens.Circuits;

namespace SharpLens.Discovery;

/// <summary>Settings of <see cref="InductionDiscovery"/>.</summary>
public sealed record InductionDiscoveryOptions
{
    /// <summary>Evaluation prompt pairs (<see cref="InductionPrompts"/>).</summary>
    public int Prompts { get; init; } = 32;
    /// <summary>Tokens per prompt; null: the model's n_ctx.</summary>
    public int? Length { get; init; }
    /// <summary>Seed of the evaluation prompts and repeated tokens.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>A head belongs to the mechanism when ablating it alone loses at least this share of the task (0-1).</summary>
    public double NecessaryLoss { get; init; } = 0.3;
    /// <summary>Ablating the mechanism's heads must leave at most this share of the task ("collapse").</summary>
    public double CollapseBelow { get; init; } = 0.2;
    /// <summary>Ablating every other head, or every negative edge, must leave at least this share.</summary>
    public double IntactAbove { get; init; } = 0.8;
    /// <summary>EAP-IG interpolation steps.</summary>
    public int IgSteps { get; init; } = 5;
    /// <summary>ACDC thresholds as shares of the clean − corrupted gap, one recovered set each.</summary>
    public IReadOnlyList<double> AcdcThresholds { get; init; } = [0.3, 0.1, 0.03, 0.01, 0.003, 0.001];
}

/// <summary>
/// Which heads carry the induction mechanism of a trained model, found and confirmed by resample ablation
/// (<see cref="MechanismAblation"/>), and the ground-truth edge set derived from them.
/// </summary>
/// <param name="EachHead">[layer, head] surviving share of the task with that head ablated alone</param>
/// <param name="PreviousTokenHeads">necessary heads below the last layer holding necessary heads</param>
/// <param name="InductionHeads">necessary heads in the last layer holding necessary heads</param>
/// <param name="MechanismHeadsAblated">surviving share with every mechanism head ablated (must be ≤ CollapseBelow)</param>
/// <param name="OtherHeadsAblated">surviving share with every other head ablated (must be ≥ IntactAbove)</param>
/// <param name="PlantedEdgesAblated">surviving share with the planted edges ablated</param>
/// <param name="NegativeEdgesAblated">surviving share with every negative edge ablated (must be ≥ IntactAbove)</param>
/// <param name="Confirmed">all four conditions hold: the edges may serve as ground truth</param>
/// <param name="Verdict">one line: confirmed, or which condition failed</param>
/// <param name="Truth">the planted and partial edges; null when no mechanism heads were found</param>
public sealed record InductionMechanism(double[,] EachHead, IReadOnlyList<HeadId> PreviousTokenHeads,
    IReadOnlyList<HeadId> InductionHeads, double MechanismHeadsAblated, double OtherHeadsAblated,
    double PlantedEdgesAblated, double NegativeEdgesAblated, bool Confirmed, string Verdict, PlantedEdges? Truth);

/// <summary>Where a score puts the heads that should come first.</summary>
/// <param name="Score">what ranked the heads</param>
/// <param name="Expected">the causally confirmed heads</param>
/// <param name="Top">the |Expected| highest-scoring heads</param>
/// <param name="Ranks">each expected head's rank among all heads (1 = highest)</param>
public sealed record HeadRanking(string Score, IReadOnlyList<HeadId> Expected, IReadOnlyList<HeadId> Top,
    IReadOnlyList<int> Ranks)
{
    /// <summary>True when the expected heads are exactly the top-ranked ones.</summary>
    public bool ExpectedFirst => Ranks.All(r => r <= Expected.Count);
}

/// <summary>One sender → receiver measurement between mechanism heads.</summary>
/// <param name="Sender">the earlier head</param>
/// <param name="Receiver">the later head's input (<c>L1H2&lt;k&gt;</c>)</param>
/// <param name="Value">the measured value (composition score, or path patching's normalized effect)</param>
/// <param name="Rank">rank of the sender among every earlier head into the same receiver (1 = strongest)</param>
public sealed record PairMeasurement(string Sender, string Receiver, double Value, int Rank);

/// <summary>Everything <see cref="InductionDiscovery.Run"/> measured on one model.</summary>
/// <param name="Mechanism">the causally identified mechanism</param>
/// <param name="Detection">TransformerLens' detect_head grids on the clean prompts: previous_token_head,
/// duplicate_token_head, induction_head (default options)</param>
/// <param name="Repeated">scores on repeated random tokens</param>
/// <param name="Rankings">where each score ranks the confirmed heads</param>
/// <param name="KComposition">K-composition of each previous-token head into each induction head</param>
/// <param name="PathPatching">path patching from each previous-token head into each induction head's q, k and v
/// (normalized: −1 carries the whole task)</param>
/// <param name="Recovery">EAP, EAP-IG and ACDC against the planted edges; empty when the mechanism is unconfirmed</param>
/// <param name="CleanMetric">mean log-probability of the answer on the clean prompts</param>
/// <param name="CorruptedMetric">the same on the corrupted prompts</param>
public sealed record InductionDiscoveryResult(InductionMechanism Mechanism, IReadOnlyDictionary<HeadType, Grid> Detection,
    RepeatedTokenScores Repeated, IReadOnlyList<HeadRanking> Rankings, IReadOnlyList<PairMeasurement> KComposition,
    IReadOnlyList<PairMeasurement> PathPatching, IReadOnlyList<EdgeRecovery> Recovery, double CleanMetric, double CorruptedMetric);
