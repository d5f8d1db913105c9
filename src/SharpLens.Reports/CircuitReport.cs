using System.Globalization;
using SharpLens.Circuits;

namespace SharpLens.Reports;

/// <summary>Report sections for circuits: the circuit figure, its faithfulness and the faithfulness curve.</summary>
public static class CircuitReport
{
    /// <summary>Adds the circuit figure, a faithfulness table and (when given) the faithfulness curve to <paramref name="report"/>.</summary>
    public static Report Add(Report report, string name, Circuit circuit, FaithfulnessResult faithfulness,
        IReadOnlyList<FaithfulnessResult>? curve = null)
    {
        report.AddFigure(new CircuitFigure(circuit, $"{name}: circuit of {circuit.EdgeCount} edges"),
            $"{name}: {circuit.EdgeCount} edges, {circuit.Nodes.Count} nodes; faithfulness {Format(faithfulness)}. Hover an edge for its score.");
        if (curve is { Count: > 0 }) report.AddFigure(CurveFigure(name, curve), $"{name}: faithfulness against circuit size, with bootstrap CIs over prompts.");
        return report;
    }

    /// <summary>
    /// Faithfulness against circuit size as EAP-IG and auto-circuit plot it: edges on a log axis up to the full graph,
    /// the estimate as a line over a shaded CI band. Empty and undecided points are gaps, named in their hover labels.
    /// </summary>
    public static LineFigure CurveFigure(string name, IReadOnlyList<FaithfulnessResult> curve)
    {
        // An empty circuit (0 edges) has no place on a log axis and no value: it is left out (its label says why elsewhere).
        var points = curve.Where(r => r.Edges > 0).ToList();
        if (points.Count == 0) points = [.. curve.Take(1)];
        var x = points.Select(r => r.Edges.ToString(CultureInfo.InvariantCulture)).ToList();
        double Shown(FaithfulnessResult r, float v) => r.IsMeasured ? v : double.NaN;
        string level = $"{(points.Count > 0 ? points[0].Interval.Level : 0.95) * 100:0}% CI";
        var figure = new LineFigure(x, new LineSeries("faithfulness", points.Select(r => Shown(r, r.Faithfulness)).ToList(),
            points.Select(r => $"{r.Edges} edges: {Format(r)}").ToList()))
        { Title = $"{name}: faithfulness curve", XTitle = "edges in circuit (log scale)", YTitle = "faithfulness" };
        figure.Add(new LineBand(level, points.Select(r => Shown(r, r.Interval.Lower)).ToList(), points.Select(r => Shown(r, r.Interval.Upper)).ToList()));
        return points.All(r => r.Edges > 0) ? figure.WithNumericX(points.Select(r => (double)r.Edges).ToList(), log: true) : figure;
    }

    /// <summary>"0.83 [0.71, 0.95]", "empty (no edges)" or "undecided (...)".</summary>
    public static string Format(FaithfulnessResult r) => r.Status switch
    {
        FaithfulnessStatus.Empty => "empty (no edges)",
        FaithfulnessStatus.Undecided => "undecided (clean − corrupted gap not distinguishable from zero)",
        _ => string.Create(CultureInfo.InvariantCulture,
            $"{NoNegativeZero(r.Faithfulness):0.###} [{NoNegativeZero(r.Interval.Lower):0.###}, {NoNegativeZero(r.Interval.Upper):0.###}]"),
    };

    /// <summary>Why faithfulness is not reported: the gap it would divide by, with its CI.</summary>
    public static string UndecidedNote(EffectGap gap) => string.Create(CultureInfo.InvariantCulture,
        $"note: clean − corrupted metric {gap.Estimate:0.###} [{gap.Interval.Lower:0.###}, {gap.Interval.Upper:0.###}] ({gap.Interval.Level * 100:0}% CI) includes 0: ") +
        "faithfulness would divide by noise, so it is reported as undecided; use prompts where the model's clean and corrupted answers differ, or more prompts";

    // "0.###" prints a tiny negative as "-0"; rounding to the printed digits first and adding +0 prints it as 0.
    private static double NoNegativeZero(double x) => Math.Round(x, 3) + 0.0;
}
