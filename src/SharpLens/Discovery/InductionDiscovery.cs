using SharpLens.Analysis;
using SharpLens.Analysis.Heads;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Weights;
using SharpLens.Circuits;
using SharpLens.Model;

namespace SharpLens.Discovery;

/// <summary>
/// Does the toolkit find the induction mechanism a model was trained to have? First the ground truth is established
/// causally, never assumed (a model may solve the task another way): every head is resample-ablated alone on induction
/// prompts (<see cref="InductionPrompts"/>); heads whose ablation loses at least <c>NecessaryLoss</c> of the task are the
/// mechanism, those in its last layer the induction heads and the earlier ones the previous-token heads; ablating them all
/// must collapse the task and ablating every other head must not. The planted edges follow from the heads
/// (<see cref="PlantedEdgesOf"/>). Then each method is measured against that truth: TransformerLens' head detector and
/// the repeated-token scores (the confirmed heads must rank first), K-composition and path patching from the
/// previous-token heads into the induction heads, and EAP, EAP-IG and ACDC edge recovery (ROC AUC, precision/recall).
/// </summary>
public static class InductionDiscovery
{
    /// <summary>Identifies and confirms the mechanism, then measures every method against it.</summary>
    /// <param name="model">a model trained on the induction task (its <c>bos_token_id</c> leads every prompt)</param>
    /// <param name="options">prompts, thresholds and method settings</param>
    /// <param name="progress">one line per stage, for a progress display</param>
    public static InductionDiscoveryResult Run(HookedTransformer model, InductionDiscoveryOptions? options = null, IProgress<string>? progress = null)
    {
        options ??= new InductionDiscoveryOptions();
        var cfg = model.Config;
        int bos = cfg.BosTokenId;
        int length = options.Length ?? cfg.NCtx;
        if (length > cfg.NCtx) throw new InvalidInputException($"induction prompts of {length} tokens do not fit the model's n_ctx of {cfg.NCtx}");
        if (cfg.NLayers < 2) throw new InvalidInputException($"an induction circuit needs two layers; model {cfg.ModelName} has {cfg.NLayers}");
        var inputs = InductionPrompts.Create(options.Prompts, length, cfg.DVocab, bos, options.Seed);

        progress?.Report("ablating each head");
        var evaluator = new CircuitEvaluator(model, inputs);
        var mechanism = Identify(evaluator, options);

        progress?.Report("head detection");
        var sequences = Enumerable.Range(0, inputs.Clean.Batch).Select(b => (IReadOnlyList<int>)inputs.Clean.Sequence(b)).ToList();
        var detection = DetectionPatterns.All.ToDictionary(t => t, t => HeadDetector.Detect(model, sequences, t));
        int period = (length - 1) / 2;
        var repeated = RepeatedTokenScores.Compute(model, RepeatedTokens.Random(options.Prompts, period, 2, 0, cfg.DVocab, bos, options.Seed));
        var rankings = new List<HeadRanking>();
        if (mechanism.PreviousTokenHeads.Count > 0)
        {
            rankings.Add(Rank("detect_head previous_token_head", detection[HeadType.PreviousToken], mechanism.PreviousTokenHeads));
            rankings.Add(Rank("previous-token score (repeated tokens)", repeated.PreviousToken, mechanism.PreviousTokenHeads));
        }
        if (mechanism.InductionHeads.Count > 0)
        {
            rankings.Add(Rank("detect_head induction_head", detection[HeadType.Induction], mechanism.InductionHeads));
            rankings.Add(Rank("induction score (repeated tokens)", repeated.Induction, mechanism.InductionHeads));
        }

        progress?.Report("composition and path patching");
        var kComposition = new List<PairMeasurement>();
        var pathPatching = new List<PairMeasurement>();
        var all = CompositionScores.All(model, CompositionKind.K);
        var patcher = new PathPatcher(model, inputs);
        var graph = evaluator.Graph;
        foreach (var receiver in mechanism.InductionHeads)
        {
            var senders = all.Senders((receiver.Layer, receiver.Head), int.MaxValue);
            foreach (var sender in mechanism.PreviousTokenHeads)
            {
                int rank = 1 + senders.TakeWhile(s => new HeadId(s.Layer, s.Head) != sender).Count();
                kComposition.Add(new PairMeasurement(sender.ToString(), $"{receiver}<k>", all[(sender.Layer, sender.Head), (receiver.Layer, receiver.Head)], rank));
            }
            foreach (var input in new[] { HeadInput.Q, HeadInput.K, HeadInput.V })
            {
                var into = graph.Downstream[graph.HeadBackward(receiver.Layer, receiver.Head, input)];
                var sweep = patcher.SweepSenders([into]);
                var earlier = Enumerable.Range(0, receiver.Layer).SelectMany(l => Enumerable.Range(0, cfg.NHeads).Select(h => new HeadId(l, h))).ToList();
                foreach (var sender in mechanism.PreviousTokenHeads)
                {
                    float effect = sweep[sender.Layer, sender.Head];
                    int rank = 1 + earlier.Count(o => o != sender && sweep[o.Layer, o.Head] < effect);
                    pathPatching.Add(new PairMeasurement(sender.ToString(), $"{receiver}<{char.ToLowerInvariant(input.ToString()[0])}>", effect, rank));
                }
            }
        }

        var recovery = new List<EdgeRecovery>();
        if (mechanism.Confirmed && mechanism.Truth is { } truth)
        {
            progress?.Report("EAP");
            recovery.Add(EdgeRecovery.OfScores(EdgeAttribution.Run(model, inputs.Clean, inputs.Corrupted, inputs.Metric, 0, evaluator.CleanOutputs, evaluator.CorruptedOutputs), truth));
            progress?.Report("EAP-IG");
            recovery.Add(EdgeRecovery.OfScores(EdgeAttribution.Run(model, inputs.Clean, inputs.Corrupted, inputs.Metric, options.IgSteps, evaluator.CleanOutputs, evaluator.CorruptedOutputs), truth));
            progress?.Report("ACDC");
            double gap = evaluator.CleanPerPrompt.Average() - evaluator.CorruptedPerPrompt.Average();
            var sets = options.AcdcThresholds.Select(t => Acdc.Run(evaluator, (float)Math.Abs(t * gap)).Circuit).ToList();
            recovery.Add(EdgeRecovery.OfSets("ACDC", sets, truth));
        }
        return new InductionDiscoveryResult(mechanism, detection, repeated, rankings, kComposition, pathPatching, recovery,
            evaluator.CleanPerPrompt.Average(), evaluator.CorruptedPerPrompt.Average());
    }

    /// <summary>
    /// Finds the heads the task needs, assigns their roles by layer, derives the planted edges and checks the four
    /// ablation conditions. A layer's mechanism heads are those whose ablation alone loses at least
    /// <c>NecessaryLoss</c> of the task; when they do not collapse the task together but the whole layer does (heads
    /// that back each other up, each dispensable alone), the layer's other heads join in order of their single-head loss
    /// until it collapses. The last layer holding mechanism heads holds the induction heads, earlier ones the
    /// previous-token heads. When the confirmation fails, the verdict names the non-planted edges whose ablation alone
    /// costs the most: the route the model took instead.
    /// </summary>
    public static InductionMechanism Identify(CircuitEvaluator evaluator, InductionDiscoveryOptions options)
    {
        var graph = evaluator.Graph;
        var each = MechanismAblation.EachHead(evaluator);
        var necessary = new List<HeadId>();
        for (int l = 0; l < graph.NLayers; l++) necessary.AddRange(LayerMechanism(evaluator, each, l, options));
        if (necessary.Count == 0)
            return new InductionMechanism(each, [], [], double.NaN, double.NaN, double.NaN, double.NaN, false,
                $"no head is necessary: no head's ablation loses {options.NecessaryLoss:0.##} of the task and no layer's collapses it (the model solves it another way, or not at all)", null);
        int last = necessary.Max(h => h.Layer);
        var induction = necessary.Where(h => h.Layer == last).ToList();
        var previous = necessary.Where(h => h.Layer < last).ToList();
        var others = Enumerable.Range(0, graph.NLayers).SelectMany(l => Enumerable.Range(0, graph.NHeads).Select(h => new HeadId(l, h))).Except(necessary).ToList();
        double mechanismAblated = MechanismAblation.Heads(evaluator, necessary);
        double othersAblated = others.Count == 0 ? 1 : MechanismAblation.Heads(evaluator, others);
        if (previous.Count == 0)
            return new InductionMechanism(each, previous, induction, mechanismAblated, othersAblated, double.NaN, double.NaN, false,
                $"no previous-token head is necessary: only layer-{last} heads {string.Join(", ", induction)} are (the model finds the earlier copy without one)", null);
        var truth = PlantedEdgesOf(graph, previous, induction);
        double plantedAblated = MechanismAblation.Edges(evaluator, truth.Planted);
        var negatives = graph.Edges.Where((_, i) => truth.IsNegative(i)).ToList();
        double negativesAblated = MechanismAblation.Edges(evaluator, negatives);
        var failed = new List<string>();
        if (!(mechanismAblated <= options.CollapseBelow)) failed.Add($"ablating the mechanism heads leaves {mechanismAblated:0.###} of the task (> {options.CollapseBelow})");
        if (!(othersAblated >= options.IntactAbove)) failed.Add($"ablating every other head leaves only {othersAblated:0.###} (< {options.IntactAbove}): another route carries the task");
        if (!(negativesAblated >= options.IntactAbove))
        {
            var strongest = negatives.Select(e => (e.Name, Loss: 1 - MechanismAblation.Edges(evaluator, [e]))).OrderByDescending(x => x.Loss).Take(3);
            failed.Add($"ablating every non-planted edge leaves only {negativesAblated:0.###} (< {options.IntactAbove}); alone, {string.Join(", ", strongest.Select(x => $"{x.Name} loses {x.Loss:0.##}"))}");
        }
        if (!(plantedAblated <= 1 - options.NecessaryLoss)) failed.Add($"ablating the planted edges leaves {plantedAblated:0.###} of the task");
        string verdict = failed.Count == 0
            ? $"confirmed: previous-token {string.Join(", ", previous)}, induction {string.Join(", ", induction)}"
            : $"not confirmed (previous-token {string.Join(", ", previous)}, induction {string.Join(", ", induction)}): " + string.Join("; ", failed);
        return new InductionMechanism(each, previous, induction, mechanismAblated, othersAblated, plantedAblated, negativesAblated, failed.Count == 0, verdict, truth);
    }

    /// <summary>The heads of <paramref name="layer"/> the task needs (see <see cref="Identify"/>).</summary>
    private static List<HeadId> LayerMechanism(CircuitEvaluator evaluator, double[,] each, int layer, InductionDiscoveryOptions options)
    {
        var byLoss = Enumerable.Range(0, each.GetLength(1)).Select(h => new HeadId(layer, h)).OrderBy(h => each[layer, h.Head]).ToList();
        var heads = byLoss.Where(h => 1 - each[layer, h.Head] >= options.NecessaryLoss).ToList();
        if (heads.Count > 0 && MechanismAblation.Heads(evaluator, heads) <= options.CollapseBelow) return heads;
        if (!(MechanismAblation.Heads(evaluator, byLoss) <= options.CollapseBelow)) return heads;
        foreach (var h in byLoss.Except(heads).ToList())
        {
            heads.Add(h);
            if (MechanismAblation.Heads(evaluator, heads) <= options.CollapseBelow) break;
        }
        return heads;
    }

    /// <summary>
    /// The induction circuit's edges over the EAP-IG graph. Planted, for each previous-token head P and induction head I:
    /// <c>input→P&lt;v&gt;</c> (P moves the previous token), <c>P→I&lt;k&gt;</c> (K-composition), <c>input→I&lt;q&gt;</c>
    /// (the current token looks for its copy), <c>input→I&lt;v&gt;</c> (the token to copy) and <c>I→logits</c>.
    /// Partial (counted neither way): <c>input→P&lt;q|k&gt;</c> and <c>input→I&lt;k&gt;</c>, which carry positions, the
    /// same in clean and corrupted prompts, so no patching method can see them; and every edge between an MLP and the
    /// input, a mechanism head, another MLP or the logits, since an MLP may relay the token or the previous token on its
    /// way (the task plants no MLP role). Every other edge is a negative: those of the other heads, the wrong inputs of
    /// the mechanism heads (e.g. <c>P→I&lt;q|v&gt;</c>), and the direct <c>input→logits</c> and <c>P→logits</c>.
    /// </summary>
    public static PlantedEdges PlantedEdgesOf(CircuitGraph graph, IReadOnlyList<HeadId> previous, IReadOnlyList<HeadId> induction)
    {
        var planted = new List<string>();
        var partial = new HashSet<string>();
        foreach (var p in previous)
        {
            planted.Add($"input->{Name(p)}<v>");
            partial.Add($"input->{Name(p)}<q>"); partial.Add($"input->{Name(p)}<k>");
            foreach (var i in induction) planted.Add($"{Name(p)}->{Name(i)}<k>");
        }
        foreach (var i in induction)
        {
            planted.Add($"input->{Name(i)}<q>"); planted.Add($"input->{Name(i)}<v>"); planted.Add($"{Name(i)}->logits");
            partial.Add($"input->{Name(i)}<k>");
        }
        var mechanism = previous.Concat(induction).Select(Name).ToHashSet();
        bool Relay(string node) => node is "input" or "logits" || node.StartsWith('m') || mechanism.Contains(node);
        foreach (var e in graph.Edges)
            if ((e.Parent.IsMlp || e.Child is { IsHead: false, IsLogits: false }) && Relay(e.Parent.Name) && Relay(e.Child.Name))
                partial.Add(e.Name);
        return new PlantedEdges(graph, planted, partial);
    }

    private static HeadRanking Rank(string score, Grid grid, IReadOnlyList<HeadId> expected)
    {
        var order = grid.Largest(grid.Rows.Count * grid.Cols.Count).Select(c => new HeadId(c.Row, c.Col)).ToList();
        return new HeadRanking(score, expected, order.Take(expected.Count).ToList(), expected.Select(h => 1 + order.IndexOf(h)).ToList());
    }

    private static string Name(HeadId head) => head.EapIgName;
}
