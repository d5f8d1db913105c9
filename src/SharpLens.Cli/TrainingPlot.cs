using SharpLens.Reports;
using SharpLens.Training;

namespace SharpLens.Cli;

/// <summary>The loss curve of a training run (training and held-out loss per logged step) as a report-style figure:
/// <c>loss.html</c> (interactive, offline), <c>loss.csv</c> and <c>loss.json</c> in the run's folder.</summary>
internal static class TrainingPlot
{
    /// <summary>Writes the figure of the run in <paramref name="folder"/> from its JSON log.</summary>
    public static void Write(string folder)
    {
        var records = TrainingRun.ReadLog(folder);
        if (records.Count == 0) return;
        var figure = new LineFigure(records.Select(r => r.Step.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
            new LineSeries("training loss", records.Select(r => r.Loss).ToList()),
            new LineSeries("held-out loss", records.Select(r => r.EvalLoss ?? double.NaN).ToList()))
        {
            Title = "Loss (next-token cross-entropy on the counted positions)", XTitle = "step", YTitle = "loss",
        };
        FigureWriter.Write(figure, folder, "loss", FigureFormats.Html | FigureFormats.Csv | FigureFormats.Json);
    }
}
