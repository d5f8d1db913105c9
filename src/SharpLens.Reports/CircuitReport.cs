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

    /// <summary>Faithfulness against circuit size: the estimate and its CI bounds as three lines.</summary>
    public static LineFigure CurveFigure(string name, IReadOnlyList<FaithfulnessResult> curve)
    {
        var x = curve.Select(r => r.Edges.ToString(CultureInfo.InvariantCulture)).ToList();
        return new LineFigure(x,
            new LineSeries("faithfulness", curve.Select(r => (double)r.Faithfulness).ToList()),
            new LineSeries($"{curve[0].Interval.Level * 100:0}% CI lower", curve.Select(r => (double)r.Interval.Lower).ToList()),
            new LineSeries($"{curve[0].Interval.Level * 100:0}% CI upper", curve.Select(r => (double)r.Interval.Upper).ToList()))
        { Title = $"{name}: faithfulness curve", XTitle = "edges in circuit", YTitle = "faithfulness" };
    }

    /// <summary>"0.83 [0.71, 0.95]".</summary>
    public static string Format(FaithfulnessResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{NoNegativeZero(r.Faithfulness):0.###} [{NoNegativeZero(r.Interval.Lower):0.###}, {NoNegativeZero(r.Interval.Upper):0.###}]");

    // An empty circuit's faithfulness is (m_corrupt - m_corrupt) / ..., -0 or a tiny negative in floating point, which
    // "0.###" prints as "-0"; rounding to the printed digits first and adding +0 prints it as 0.
    private static double NoNegativeZero(double x) => Math.Round(x, 3) + 0.0;
}
