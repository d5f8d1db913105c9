using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Model;

namespace SharpLens.Studies;

/// <summary>
/// How much work each step of a study is, so that its progress reflects the work left rather than the count of steps
/// done: the circuits section is one step of 66 in studies/contractions.json but about a third of the run, and one
/// neuron-patching step outweighs ten residual-stream sweeps. The functions count passes (one forward pass over a group's
/// prompts = 1); the runner weighs them by the group's tokens (<see cref="Tokens"/>), so the unit of a whole study is one
/// token through the model. Estimates count what the passes compute, not measured time, and are meant to be right within a factor of two (what a
/// progress bar needs): a patched run computes the blocks from the patched one on and the positions from the patched
/// one on (the exact engine's shortcuts, docs/architecture.md), a backward pass costs two forward passes, an EAP-IG step
/// a forward and a backward, an edge-patched or path-patched pass about two.
/// </summary>
internal static class StudyWork
{
    /// <summary>The last block runs at the final rows only, except its keys and values (step 6 of the exact engine).</summary>
    private const double LastBlock = 0.3;
    /// <summary>A backward pass, in forward passes.</summary>
    private const double Backward = 2;
    /// <summary>A pass whose node inputs mix clean and corrupted outputs edge by edge (circuit evaluation).</summary>
    private const double EdgePatchedPass = 2;
    /// <summary>A pass that patches one sender's path into the receivers (path patching).</summary>
    private const double PathPatchedPass = 1.5;
    /// <summary>Resampled prompt values (permutations, bootstrap) that cost as much as one token through GPT-2 small; the
    /// comparisons' statistics are counted in these.</summary>
    private const double ResampledValuesPerToken = 8e5;

    /// <summary>The tokens of a group's prompts (padded), the weight of one of its passes.</summary>
    public static double Tokens(ResolvedGroup g) => (double)g.Clean.Batch * g.Clean.Pos;

    /// <summary>A patching sweep over a group's positions: for each site, the blocks and positions its patched run computes.</summary>
    public static double Sweep(string name, ModelConfig config, int positions, IReadOnlyList<int>? neuronLayers = null)
    {
        var columns = Enumerable.Range(0, positions).ToArray();
        var sweep = SweepNames.Build(name, config, columns, columns.Select(c => c.ToString()).ToArray(), neuronLayers);
        return Sites(sweep.Sites, config.NLayers, positions);
    }

    /// <summary>Patched runs of <paramref name="sites"/> (every prompt at once), in forward passes.</summary>
    public static double Sites(IEnumerable<PatchSite> sites, int nLayers, int positions) => sites.Sum(site =>
    {
        // Where the run starts: a site that reaches the rest of the model only through resid_post skips its block, one
        // that reaches it through resid_mid skips the block's attention (about half of it).
        double first = site.Activation switch
        {
            "resid_post" or "mlp_out" or "post" => site.Layer + 1,
            "resid_mid" or "attn_out" or "z" => site.Layer + 0.5,
            _ => site.Layer,
        };
        double blocks = first > nLayers - 1 ? 0 : nLayers - 1 - first + LastBlock;
        int from = site.Position is int p ? (p >= 0 ? p : Math.Max(0, positions + p)) : 0;
        return blocks / nLayers * (positions - Math.Min(from, positions - 1)) / positions;
    });

    /// <summary>Attribution patching (a forward and a backward pass) and the exact patching of its top candidates.</summary>
    public static double AttributionPatching(ModelConfig config, int positions, int candidates)
    {
        var sites = Enumerable.Range(0, candidates).SelectMany(i => new[] { PatchSite.Neuron(config.NLayers / 2, 0), PatchSite.Head("z", config.NLayers / 2, 0) });
        return 1 + Backward + Sites(sites, config.NLayers, positions);
    }

    /// <summary>The comparisons, in tokens through the model: for every pair of groups and every compared figure, a
    /// permutation test and bootstrap intervals over its cells.</summary>
    public static double Comparisons(int groups, IEnumerable<int> cellsPerFigure, int prompts, int permutations, int resamples)
    {
        double pairs = groups * (groups - 1) / 2.0;
        return pairs * cellsPerFigure.Sum() * 2.0 * prompts * (permutations + resamples) / ResampledValuesPerToken;
    }

    /// <summary>The phases of the circuits section, in forward passes of one group's prompts.</summary>
    /// <param name="Scoring">One group's edge scores: its evaluator (two forward and two edge-patched passes) and the EAP
    /// or EAP-IG passes.</param>
    /// <param name="Evaluation">Everything measured on one group: its evaluator again, every group's circuit's faithfulness
    /// on it and its own curve.</param>
    /// <param name="PathPatching">One receiver's path patching: one pass per sender that can reach it.</param>
    public sealed record CircuitPhases(double Scoring, double Evaluation, double PathPatching)
    {
        /// <summary>The whole section in tokens through the model: scoring and evaluation on each of <paramref name="groups"/>,
        /// path patching of <paramref name="receivers"/> receivers on <paramref name="pathGroup"/>.</summary>
        public double Total(IEnumerable<ResolvedGroup> groups, ResolvedGroup pathGroup, int receivers)
        {
            double perGroup = Scoring + Evaluation;
            return groups.Sum(g => Tokens(g) * perGroup) + receivers * Tokens(pathGroup) * PathPatching;
        }
    }

    /// <summary>The phases of the circuits section of <paramref name="s"/> over <paramref name="groups"/> groups.</summary>
    public static CircuitPhases Circuits(CircuitsSettings s, int groups, CircuitGraph graph)
    {
        double evaluator = 2 + 2 * EdgePatchedPass;
        double scoring = evaluator + (s.Method == EdgeScoringMethod.Eap ? 1 : Math.Max(1, s.Steps)) * (1 + Backward);
        double evaluation = evaluator + (groups + s.CurveFor(graph).Length) * EdgePatchedPass;
        // A receiver in layer l is reached by the heads and MLPs of the layers before it: about half of them.
        double senders = graph.NLayers * (graph.NHeads + 1) / 2.0;
        return new CircuitPhases(scoring, evaluation, senders * PathPatchedPass);
    }
}
