using System.Runtime.ExceptionServices;

namespace SharpLens.Analysis.Statistics;

/// <summary>Parallel loop over grid cells that rethrows a cell's own exception (not an AggregateException).</summary>
internal static class ParallelCells
{
    public static void For(int cells, Action<int> body)
    {
        try { Parallel.For(0, cells, body); }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            var first = e.InnerExceptions.OfType<SharpLensException>().FirstOrDefault() ?? e.InnerExceptions[0];
            ExceptionDispatchInfo.Capture(first).Throw();
            throw;
        }
    }
}
