using SharpLens.Analysis.Patching;
using Spectre.Console;

namespace SharpLens.Cli;

/// <summary>
/// One progress bar over several patching sweeps: the patcher reports each sweep from 0 to its own total, and this
/// turns that into one monotone count over the planned total of all sweeps, labelled with the current sweep (e.g.
/// "neurons_L7, sweep 9 of 14"), so a long run over twelve neuron layers does not appear to start over twelve times.
/// </summary>
internal sealed class SweepProgress(ProgressTask task)
{
    private IReadOnlyList<(string Name, int Runs)> _plan = [];
    private int _current = -1;
    private long _before;

    /// <summary>The sweeps to come, in order, with their number of patched runs; planning again starts a new count
    /// (the exact check after attribution patching).</summary>
    public void Plan(IReadOnlyList<(string Name, int Runs)> sweeps)
    {
        _plan = sweeps;
        _current = -1;
        _before = 0;
        task.MaxValue = Math.Max(1, sweeps.Sum(s => (long)s.Runs));
        task.Value = 0;
    }

    /// <summary>Moves on to the next planned sweep.</summary>
    public void Next()
    {
        if (_current >= 0) _before += _plan[_current].Runs;
        _current++;
        task.Value = _before;
        task.Description = Markup.Escape($"{_plan[_current].Name}, sweep {_current + 1} of {_plan.Count}");
    }

    /// <summary>Every planned sweep has run.</summary>
    public void Complete()
    {
        _before = (long)task.MaxValue;
        task.Value = task.MaxValue;
        task.Description = Markup.Escape($"{_plan.Count} sweep(s), {(long)task.MaxValue} patched runs");
    }

    /// <summary>A report from the patcher about the current sweep.</summary>
    public void Report(PatchingProgress p) => task.Value = _before + Math.Min(p.Done, _plan[_current].Runs);
}
