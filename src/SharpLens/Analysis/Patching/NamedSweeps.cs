namespace SharpLens.Analysis.Patching;

/// <summary>One sweep of a run of named sweeps and the key its grid is stored under (<see cref="SweepNames.Key"/>).</summary>
/// <param name="Key">the result key, e.g. "resid_pre", "head_v_by_pos", "neurons_L8"</param>
/// <param name="Sweep">the sites, over the engine's position columns</param>
public sealed record NamedSweep(string Key, PatchSweep Sweep);

/// <summary>
/// The one way a list of sweep names (<c>sharplens patch --what</c>, the explorer's kinds, a study group's
/// <c>patching</c>) becomes sweeps on an engine (<see cref="IPatchingEngine"/>: exact, plain or attribution) and grids.
/// </summary>
public static class NamedSweeps
{
    /// <summary>
    /// The sweeps <paramref name="names"/> ask of <paramref name="engine"/>, in order, duplicates dropped: one per name,
    /// and for <see cref="SweepNames.Neurons"/> one per layer of <paramref name="neuronLayers"/> (keys
    /// <c>neurons_L{layer}</c>), so each layer's grid arrives as soon as it is done. Every name and layer is checked
    /// before any sweep runs.
    /// </summary>
    /// <param name="engine">the engine whose position columns the sweeps use</param>
    /// <param name="names">canonical sweep names (<see cref="SweepNames.All"/>)</param>
    /// <param name="neuronLayers">layers whose neurons <see cref="SweepNames.Neurons"/> patches (default: every layer)</param>
    public static IReadOnlyList<NamedSweep> Plan(this IPatchingEngine engine, IEnumerable<string> names, IReadOnlyList<int>? neuronLayers = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(names);
        var plan = new List<NamedSweep>();
        foreach (var name in names.Select(SweepNames.Canonical).Distinct())
        {
            if (name != SweepNames.Neurons) { plan.Add(new NamedSweep(SweepNames.Key(name), engine.Sweep(name))); continue; }
            // Built for all layers at once first: one check of the layers, with the sweep's own message.
            var all = engine.Sweep(name, neuronLayers);
            int width = all.Cols.Count;
            for (int r = 0; r < all.Rows.Count; r++)
            {
                int layer = all.Sites[r * width].Layer;
                var sites = all.Sites.Skip(r * width).Take(width).ToArray();
                plan.Add(new NamedSweep(SweepNames.Key(name, layer), new PatchSweep(name, [all.Rows[r]], all.Cols, sites, all.RowTitle, all.ColTitle)));
            }
        }
        return plan;
    }

    /// <summary>Runs each sweep of <paramref name="plan"/> in order and yields its key and grid as soon as it is done:
    /// the engine's raw metric, or normalized (<see cref="IPatchingEngine.Normalize"/>) when <paramref name="normalize"/>;
    /// <paramref name="starting"/> is told before each sweep runs.</summary>
    public static IEnumerable<(string Key, Grid Grid)> RunEach(this IPatchingEngine engine, IReadOnlyList<NamedSweep> plan, bool normalize = true,
        Action<NamedSweep>? starting = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(plan);
        foreach (var named in plan)
        {
            starting?.Invoke(named);
            var (key, sweep) = named;
            var raw = engine.Run(sweep);
            yield return (key, normalize ? engine.Normalize(raw) : raw);
        }
    }
}
