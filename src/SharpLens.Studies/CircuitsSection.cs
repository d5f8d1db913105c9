using System.Globalization;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Statistics;
using SharpLens.Analysis.Weights;
using SharpLens.Circuits;
using SharpLens.Model;

namespace SharpLens.Studies;

/// <summary>
/// The study's circuits section (the study file's <c>"circuits"</c> block, <see cref="CircuitsSettings"/>): for every
/// chosen group an EAP-IG circuit, its faithfulness and faithfulness curve (exact edge patching, bootstrap CIs over
/// prompts) and its figure; edge and node overlap (Jaccard) and cross-faithfulness (the circuit of one group evaluated
/// on another) between the groups' circuits; path patching of every head and MLP into chosen receivers (L7H11's value
/// and query inputs); the weights-based view of one head with the direct bigram path. Circuit files are written in
/// EAP-IG's graph JSON under <c>circuits/</c>.
/// </summary>
public static class CircuitsSection
{
    /// <summary>Where the results live in results.json.</summary>
    public const string Key = "circuits";

    /// <summary>Runs the section over the resolved groups; every setting is checked against the model before any run.</summary>
    /// <param name="model">the model.</param>
    /// <param name="s">the study's circuits settings.</param>
    /// <param name="allGroups">every resolved group of the study.</param>
    /// <param name="outDir">the study's output folder (circuit files go to its <c>circuits/</c>).</param>
    /// <param name="progress">fraction done, 0..1.</param>
    public static JsonObject Run(HookedTransformer model, CircuitsSettings s, IReadOnlyList<ResolvedGroup> allGroups, string outDir, IProgress<double>? progress = null)
        => Run(model, s, allGroups, outDir, progress, null);

    /// <summary><see cref="Run(HookedTransformer, CircuitsSettings, IReadOnlyList{ResolvedGroup}, string, IProgress{double})"/>
    /// with the evaluators built by <paramref name="evaluatorFor"/> (tests: which of them are alive when).</summary>
    internal static JsonObject Run(HookedTransformer model, CircuitsSettings s, IReadOnlyList<ResolvedGroup> allGroups, string outDir,
        IProgress<double>? progress, Func<ResolvedGroup, CircuitEvaluator>? evaluatorFor)
    {
        var (groups, pathGroup) = s.Resolve(allGroups, StudyTarget.For(model));
        var graph = CircuitGraph.For(model);
        var options = new CircuitSearchOptions { Method = s.Method, IgSteps = s.Steps, Edges = s.EdgesFor(graph) };
        var sizes = s.CurveFor(graph);
        var receivers = s.Receivers.Select(graph.RequireDownstream).ToList();
        HeadId? ovHead = s.OvHeadIn(graph);

        evaluatorFor ??= g => new CircuitEvaluator(model, Inputs(g));
        var scores = new Dictionary<string, EdgeScores>();
        var circuits = new Dictionary<string, Circuit>();
        var perGroup = new JsonObject();
        // Progress by work (StudyWork), as the runner counts this section: scoring and evaluating a group, path patching
        // into a receiver; the rest is small.
        var phases = StudyWork.Circuits(s, groups.Count, graph);
        double total = phases.Total(groups, pathGroup, receivers.Count), done = 0;
        void Advance(double work) => progress?.Report(total > 0 ? Math.Min(1, (done += work) / total) : 1);
        string circuitDir = Path.Combine(outDir, "circuits");
        Directory.CreateDirectory(circuitDir);
        // Memory: an evaluator holds both runs' outputs of every node (~77 MB for 8 prompts of GPT-2 small) and the edge
        // scoring needs the backward pass's transposed weights (~0.35 GB). So every group is scored first, then the
        // backward weights go, then each group's evaluator (built again: two forward and two edge-patched passes)
        // serves everything measured on that group: its circuit's faithfulness and curve, and every other circuit's
        // faithfulness on it. One evaluator is alive at a time, never next to the backward weights.
        foreach (var g in groups)
        {
            (scores[g.Group.Name], circuits[g.Group.Name]) = ScoreEdges(model, g, evaluatorFor, options);
            Advance(StudyWork.Tokens(g) * phases.Scoring);
        }
        model.ReleaseBackwardWeights();

        var names = groups.Select(g => g.Group.Name).ToList();
        int k = names.Count;
        var edgeOverlap = new double[k, k];
        var nodeOverlap = new double[k, k];
        var cross = new FaithfulnessResult[k, k];
        for (int j = 0; j < k; j++)
        {
            // Column j: every circuit evaluated on group j (the diagonal is each circuit's own faithfulness).
            var (own, column) = EvaluateOn(s, groups, j, evaluatorFor, scores, circuits, sizes, circuitDir);
            perGroup[names[j]] = own;
            for (int i = 0; i < k; i++)
            {
                edgeOverlap[i, j] = SetOverlap.Jaccard(circuits[names[i]].Edges.Select(e => e.Name), circuits[names[j]].Edges.Select(e => e.Name));
                nodeOverlap[i, j] = SetOverlap.Jaccard(circuits[names[i]].ComponentNodes, circuits[names[j]].ComponentNodes);
                cross[i, j] = column[i];
            }
            Advance(StudyWork.Tokens(groups[j]) * phases.Evaluation);
        }
        StudyMemory.ReturnFreedMemory();

        var path = new JsonObject();
        var patcher = new PathPatcher(model, new PatchingInputs(pathGroup.Clean, pathGroup.Corrupted, new LogitDiffMetric(pathGroup.Answers)));
        foreach (var r in receivers)
        {
            path[r.InputName] = patcher.SweepSenders([r]).ToJson();
            Advance(StudyWork.Tokens(pathGroup) * phases.PathPatching);
        }

        var result = new JsonObject
        {
            ["settings"] = new JsonObject
            {
                ["hash"] = s.Hash(), ["method"] = options.Method == EdgeScoringMethod.Eap ? "EAP" : "EAP-IG", ["steps"] = s.Steps,
                ["edges"] = options.Edges, ["selection"] = "greedy from the logits, pruned", ["metric"] = "mean logit difference",
                ["curve"] = new JsonArray(sizes.Select(n => (JsonNode?)n).ToArray()), ["resamples"] = s.Resamples, ["seed"] = s.Seed,
                ["path_group"] = pathGroup.Group.Name, ["total_edges"] = graph.Edges.Count,
                ["n_layers"] = graph.NLayers, ["n_heads"] = graph.NHeads, ["d_model"] = graph.DModel, ["parallel_attn_mlp"] = graph.ParallelAttnMlp,
            },
            ["groups"] = perGroup,
            ["names"] = Arr(names),
            ["edge_overlap"] = Matrix(edgeOverlap), ["node_overlap"] = Matrix(nodeOverlap),
            // A cell whose column's pairing has no clear clean − corrupted gap (or whose circuit is empty) is null: undecided.
            ["cross_faithfulness"] = Matrix(cross, r => r.Faithfulness), ["cross_faithfulness_lower"] = Matrix(cross, r => r.Interval.Lower),
            ["cross_faithfulness_upper"] = Matrix(cross, r => r.Interval.Upper),
            ["cross_faithfulness_status"] = new JsonArray(Enumerable.Range(0, k).Select(i => (JsonNode?)new JsonArray(
                Enumerable.Range(0, k).Select(j => (JsonNode?)cross[i, j].Status.ToString().ToLowerInvariant()).ToArray())).ToArray()),
            ["path_patching"] = path,
        };
        if (ovHead is { } head)
        {
            var target = StudyTarget.For(model);
            int[] Ids(IReadOnlyList<StudyToken> texts, string key) => texts.Select(t => CircuitsSettings.SingleToken(t, key, target)).ToArray();
            var answers = Ids(s.BigramAnswers, "bigram_answers");
            result["ov"] = HeadWeightSummary.Compute(model, head.Layer, head.Head, Ids(s.OvTokens, "ov_tokens"), Ids(s.BigramSources, "bigram_sources"),
                (answers[0], answers[1]), 10).ToJson();
        }
        progress?.Report(1);
        return result;
    }

    private static PatchingInputs Inputs(ResolvedGroup g) => new(g.Clean, g.Corrupted, new LogitDiffMetric(g.Answers));

    /// <summary>A group's EAP-IG edge scores and its circuit. The group's evaluator is built here, not by the caller, so
    /// that no frame but this one holds it: it is garbage when this returns.</summary>
    private static (EdgeScores Scores, Circuit Circuit) ScoreEdges(HookedTransformer model, ResolvedGroup g,
        Func<ResolvedGroup, CircuitEvaluator> evaluatorFor, CircuitSearchOptions options)
    {
        StudyMemory.ReturnFreedMemory();   // the previous group's evaluator and edge-scoring buffers
        var evaluator = evaluatorFor(g);
        // The evaluator's clean and corrupted runs also serve the edge scores.
        var scores = CircuitDiscovery.Score(model, evaluator.Inputs, options, evaluator);
        return (scores, CircuitDiscovery.Select(scores, options.Edges, greedy: true));
    }

    /// <summary>
    /// Everything measured on group <paramref name="j"/>, by one evaluator built and dropped here: its own circuit's
    /// faithfulness, curve and file (the group's JSON), and the faithfulness of every group's circuit on it (the
    /// cross-faithfulness column, indexed like <paramref name="groups"/>).
    /// </summary>
    private static (JsonObject Group, FaithfulnessResult[] Column) EvaluateOn(CircuitsSettings s, IReadOnlyList<ResolvedGroup> groups, int j,
        Func<ResolvedGroup, CircuitEvaluator> evaluatorFor, Dictionary<string, EdgeScores> scores, Dictionary<string, Circuit> circuits,
        int[] sizes, string circuitDir)
    {
        StudyMemory.ReturnFreedMemory();   // the previous evaluator (or the backward weights, before the first)
        string name = groups[j].Group.Name;
        var evaluator = evaluatorFor(groups[j]);
        var column = groups.Select(other => evaluator.Faithfulness(circuits[other.Group.Name], s.Resamples, seed: s.Seed)).ToArray();
        var gap = evaluator.Gap();
        var (circuit, faith, groupScores) = (circuits[name], column[j], scores[name]);
        var curve = evaluator.Curve(groupScores, sizes, (sc, n) => Circuit.Greedy(sc, n), s.Resamples, seed: s.Seed);
        CircuitJson.Write(circuit, Path.Combine(circuitDir, name + ".json"));
        var json = new JsonObject
        {
            ["method"] = groupScores.Method, ["edges"] = circuit.EdgeCount, ["nodes"] = Arr(circuit.Nodes.Order(StringComparer.Ordinal)),
            ["clean_logit_diff"] = evaluator.CleanPerPrompt.Average(), ["corrupted_logit_diff"] = evaluator.CorruptedPerPrompt.Average(),
            ["gap"] = gap.ToJson(),
            ["faithfulness"] = faith.ToJson(), ["curve"] = new JsonArray(curve.Select(r => (JsonNode?)r.ToJson()).ToArray()),
            ["circuit_edges"] = new JsonObject(circuit.Edges.Select(e => KeyValuePair.Create(e.Name, (JsonNode?)JsonValue.Create(groupScores[e])))),
            ["circuit_file"] = Path.Combine("circuits", name + ".json").Replace('\\', '/'),
        };
        return (json, column);
    }

    /// <summary>Rebuilds a group's circuit (with its edges' scores) from the section's JSON.</summary>
    public static Circuit CircuitOf(JsonObject section, string group)
    {
        var st = section["settings"]!;
        var graph = new CircuitGraph(st["n_layers"]!.GetValue<int>(), st["n_heads"]!.GetValue<int>(), st["d_model"]!.GetValue<int>(),
            st["parallel_attn_mlp"]?.GetValue<bool>() ?? false);   // absent in results written before parallel models had circuits
        var flags = new bool[graph.Edges.Count];
        var matrix = new float[graph.NForward * graph.NBackward];
        foreach (var (name, score) in section["groups"]![group]!["circuit_edges"]!.AsObject())
        {
            var e = graph.Edge(name);
            flags[graph.EdgeIndexByName[name]] = true;
            matrix[e.Parent.Index * graph.NBackward + e.Child.Index] = score!.GetValue<float>();
        }
        return new Circuit(graph, flags, new EdgeScores(graph, matrix, st["method"]!.GetValue<string>()));
    }

    private static JsonArray Arr(IEnumerable<string> xs) => new(xs.Select(x => (JsonNode?)x).ToArray());

    private static JsonArray Matrix(double[,] m) => new(Enumerable.Range(0, m.GetLength(0))
        .Select(i => (JsonNode?)new JsonArray(Enumerable.Range(0, m.GetLength(1)).Select(j => (JsonNode?)Math.Round(m[i, j], 6)).ToArray())).ToArray());

    // The measured cells' values; null where the faithfulness is undecided or the circuit empty.
    private static JsonArray Matrix(FaithfulnessResult[,] m, Func<FaithfulnessResult, float> value) => new(Enumerable.Range(0, m.GetLength(0))
        .Select(i => (JsonNode?)new JsonArray(Enumerable.Range(0, m.GetLength(1))
            .Select(j => m[i, j].IsMeasured && float.IsFinite(value(m[i, j])) ? (JsonNode?)Math.Round(value(m[i, j]), 6) : null).ToArray())).ToArray());

    /// <summary>
    /// The findings sentence, from the run's numbers: own-group and cross-group faithfulness, overlaps, and a verdict.
    /// Undecided when some pairing's clean − corrupted gap is not distinguishable from zero (its faithfulness would be a
    /// ratio of noise) or some cross cell is not measured; otherwise one shared circuit when every cross-faithfulness CI
    /// lies above 0.8, distinct circuits when some CI lies below 0.5, else undecided at this sample size.
    /// </summary>
    public static string Finding(JsonObject section)
    {
        var names = section["names"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        int k = names.Count;
        // null (undecided or empty) reads as NaN: it never passes a threshold and is never averaged.
        double V(string key, int i, int j) => section[key]![i]![j] is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;
        var groups = section["groups"]!.AsObject();
        var noisy = names.Where(n => groups[n]?["gap"]?["clear"] is JsonValue c && c.TryGetValue(out bool clear) && !clear).ToList();
        var own = Enumerable.Range(0, k).Select(i => V("cross_faithfulness", i, i)).Where(double.IsFinite).ToList();
        var off = (from i in Enumerable.Range(0, k) from j in Enumerable.Range(0, k) where i != j select (i, j)).ToList();
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        string ownText = own.Count == 0 ? "not measured on any pairing" : own.Count == 1 ? F(own[0]) : $"{F(own.Min())} to {F(own.Max())}";
        string gapText = noisy.Count == 0 ? "" : $" The clean − corrupted logit difference of {string.Join(", ", noisy)} is not distinguishable from zero (its 95% CI includes 0), " +
            "so faithfulness there would divide by noise and is reported as undecided.";
        if (off.Count == 0) return $"Circuits: one group only ({names[0]}), faithfulness {ownText}; nothing to compare.{gapText}";
        var measured = off.Where(p => double.IsFinite(V("cross_faithfulness", p.i, p.j))).ToList();
        double edgeMean = off.Average(p => V("edge_overlap", p.i, p.j)), nodeMean = off.Average(p => V("node_overlap", p.i, p.j));
        int above = measured.Count(p => V("cross_faithfulness_lower", p.i, p.j) >= 0.8);
        int below = measured.Count(p => V("cross_faithfulness_upper", p.i, p.j) < 0.5);
        string verdict = noisy.Count > 0 ? $"undecided: the effect itself is not measurable on {noisy.Count} of {k} pairings"
            : measured.Count < off.Count ? $"undecided: {off.Count - measured.Count} of {off.Count} cross-faithfulness values are not measured (an empty circuit)"
            : above == off.Count ? "the pairings share one circuit: every circuit keeps at least 0.8 of the effect on every other pairing (95% CI)"
            : below > 0 ? $"the pairings do not share one circuit: for {below} of {off.Count} ordered pairs the circuit of one pairing recovers less than 0.5 of another's effect even at the upper end of its 95% CI"
            : $"undecided at this sample size: {above} of {off.Count} ordered pairs have cross-faithfulness CIs above 0.8, none entirely below 0.5";
        string crossText = "";
        if (measured.Count > 0)
        {
            var worst = measured.MinBy(p => V("cross_faithfulness_lower", p.i, p.j));
            crossText = $"evaluated on the other pairings it averages {F(measured.Average(p => V("cross_faithfulness", p.i, p.j)))} over {measured.Count} measured pairs " +
                $"(weakest: the {names[worst.i]} circuit on {names[worst.j]}, {F(V("cross_faithfulness", worst.i, worst.j))} " +
                $"[{F(V("cross_faithfulness_lower", worst.i, worst.j))}, {F(V("cross_faithfulness_upper", worst.i, worst.j))}]). ";
        }
        else crossText = "no cross-faithfulness is measured. ";
        int edges = groups.Select(p => p.Value!["edges"]!.GetValue<int>()).Max();
        return string.Create(CultureInfo.InvariantCulture,
            $"Circuits ({section["settings"]!["method"]}, up to {edges} edges per pairing): on their own pairing the circuits' faithfulness is {ownText}; " +
            $"{crossText}Edge overlap (Jaccard) averages {F(edgeMean)}, node overlap (heads and MLPs) {F(nodeMean)}.{gapText} Verdict: {verdict}.");
    }
}
