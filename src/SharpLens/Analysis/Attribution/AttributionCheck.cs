using SharpLens.Analysis.Patching;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Attribution;

/// <summary>One site checked: its attribution estimate and its exactly patched value, in the same units.</summary>
/// <param name="Key">the key of the sweep it came from (<see cref="NamedSweep.Key"/>)</param>
/// <param name="Name">the head or neuron it patches (<c>L7H11</c>, <c>L8N2744</c>), or the site's name</param>
/// <param name="Kind"><see cref="SweepComponents.Head"/>, <see cref="SweepComponents.Neuron"/>, or null for other sites</param>
/// <param name="Site">the patch site</param>
/// <param name="Attribution">the estimate</param>
/// <param name="Exact">the exactly patched value</param>
public sealed record CheckedSite(string Key, string Name, string? Kind, PatchSite Site, float Attribution, float Exact);

/// <summary>Attribution estimates of named sweeps and how exact patching confirms them (<see cref="AttributionCheck"/>).</summary>
public sealed class AttributionCheckResult
{
    internal AttributionCheckResult(IReadOnlyDictionary<string, Grid> estimates, IReadOnlyDictionary<string, Grid> exact, IReadOnlyList<CheckedSite> candidates)
    {
        Estimates = estimates; Exact = exact; Candidates = candidates;
    }

    /// <summary>The attribution grid of every sweep, by key.</summary>
    public IReadOnlyDictionary<string, Grid> Estimates { get; }
    /// <summary>The exact grid of every sweep patched whole (every cell checked), by key; empty when only top candidates were.</summary>
    public IReadOnlyDictionary<string, Grid> Exact { get; }
    /// <summary>The candidates checked, sweep by sweep, each sweep's largest |estimates| first; empty when whole sweeps were.</summary>
    public IReadOnlyList<CheckedSite> Candidates { get; }

    /// <summary>How well the estimates agree with exact patching over one sweep (<paramref name="key"/>) or over every
    /// checked candidate (null); <paramref name="top"/> worst cells are listed.</summary>
    public AgreementReport Agreement(string? key = null, int top = 10)
    {
        if (key is not null && Exact.TryGetValue(key, out var exact)) return AttributionAgreement.Compare(Estimates[key], exact, top);
        if (key is null && Exact.Count > 0) throw new InvalidOperationException("whole sweeps were checked: ask for the agreement of one sweep by its key");
        var chosen = Candidates.Where(c => key is null || c.Key == key).ToArray();
        if (key is not null && chosen.Length == 0) throw new InvalidInputException($"no checked sweep '{key}': checked are {string.Join(", ", Estimates.Keys)}");
        var names = chosen.Select(c => c.Name).ToArray();
        Grid Column(Func<CheckedSite, float> value) => new(new Tensor(chosen.Select(value).ToArray(), chosen.Length, 1), names, ["effect"]);
        return AttributionAgreement.Compare(Column(c => c.Attribution), Column(c => c.Exact), top);
    }
}

/// <summary>
/// Attribution patching checked by exact patching: the estimate of every site of some named sweeps (one backward
/// pass, milliseconds), then exact patching of every cell or of each sweep's <c>top</c> cells by |estimate| (batched
/// into one sweep), in the same units. <c>sharplens patch --compare-exact</c> and the study's attribution step both
/// use it.
/// </summary>
public static class AttributionCheck
{
    /// <summary><see cref="Estimate"/> then <see cref="Check"/>.</summary>
    public static AttributionCheckResult Run(IPatchingEngine attribution, IPatchingEngine exact, IReadOnlyList<NamedSweep> sweeps,
        int? top = null, bool normalize = true, Action<NamedSweep>? starting = null) =>
        Check(Estimate(attribution, sweeps, normalize), exact, top, normalize, starting);

    /// <summary>The attribution grid of each sweep (normalized when <paramref name="normalize"/>), in order.</summary>
    public static IReadOnlyList<(NamedSweep Sweep, Grid Estimate)> Estimate(IPatchingEngine attribution, IReadOnlyList<NamedSweep> sweeps, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(sweeps);
        return attribution.RunEach(sweeps, normalize).Select((g, i) => (sweeps[i], g.Grid)).ToList();
    }

    /// <summary>
    /// Patches exactly, with <paramref name="exact"/>, every cell of each estimated sweep (<paramref name="top"/> null) or
    /// each sweep's <paramref name="top"/> cells with the largest |estimate|, all candidates in one sweep so the engine
    /// batches them; values normalized as the estimates are. <paramref name="starting"/> is told before each exact sweep.
    /// </summary>
    public static AttributionCheckResult Check(IReadOnlyList<(NamedSweep Sweep, Grid Estimate)> estimates, IPatchingEngine exact, int? top = null,
        bool normalize = true, Action<NamedSweep>? starting = null)
    {
        ArgumentNullException.ThrowIfNull(estimates);
        ArgumentNullException.ThrowIfNull(exact);
        if (top is < 1) throw new InvalidInputException($"the number of candidates to check must be at least 1, got {top}");
        var byKey = estimates.ToDictionary(e => e.Sweep.Key, e => e.Estimate);
        Grid Finish(Grid raw) => normalize ? exact.Normalize(raw) : raw;
        if (top is null)
        {
            var whole = new Dictionary<string, Grid>();
            foreach (var (sweep, _) in estimates)
            {
                starting?.Invoke(sweep);
                whole[sweep.Key] = Finish(exact.Run(sweep.Sweep));
            }
            return new AttributionCheckResult(byKey, whole, []);
        }
        var picked = new List<(string Key, string Name, string? Kind, PatchSite Site, float Attribution)>();
        foreach (var (sweep, estimate) in estimates)
        {
            var components = sweep.Sweep.Components();
            foreach (var cell in estimate.TopByMagnitude(top.Value))
                picked.Add((sweep.Key, components?.NameAt(cell.Row, cell.Col) ?? sweep.Sweep.Sites[cell.Index].Name, components?.Kind,
                    sweep.Sweep.Sites[cell.Index], cell.Value));
        }
        // Candidates are ordinary patch sites, so the exact engine batches them into as few passes as it can.
        var candidates = new NamedSweep("attribution candidates", PatchSweep.Of("attribution candidates", picked.Select(p => p.Name).ToArray(), picked.Select(p => p.Site).ToArray()));
        starting?.Invoke(candidates);
        var values = Finish(exact.Run(candidates.Sweep)).Values.Data;
        return new AttributionCheckResult(byKey, new Dictionary<string, Grid>(),
            picked.Select((p, i) => new CheckedSite(p.Key, p.Name, p.Kind, p.Site, p.Attribution, values[i])).ToList());
    }
}
