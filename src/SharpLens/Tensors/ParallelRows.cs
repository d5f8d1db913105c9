namespace SharpLens.Tensors;

/// <summary>
/// Splits row-wise (non-GEMM) work — bias adds, GELU, attention over (batch, head), the neuron index's statistics —
/// into equal static shares on the GEMM's dedicated threads. Between the GEMMs of a forward pass this work ran on one
/// core while the other idled; Parallel.For was unreliable here (both halves sometimes ran on one pool thread), while
/// the GEMM pool's workers are already spinning from the previous GEMM.
/// </summary>
public static class ParallelRows
{
    /// <summary>Below this much work (elements touched) waking a second thread costs more than it saves.</summary>
    internal const long MinWork = 1 << 15;

    /// <summary>Runs body(start, end) over [0, count) in contiguous shares, one per core when the work is big enough.</summary>
    /// <param name="count">rows (or any units) to split</param>
    /// <param name="totalWork">elements the whole loop touches: below 32K it runs on the calling thread alone</param>
    /// <param name="body">the work on rows [start, end); shares run at once and must not write the same memory</param>
    public static void For(int count, long totalWork, Action<int, int> body)
    {
        int parts = totalWork < MinWork ? 1 : Math.Min(count, GemmThreadPool.Parallelism);
        if (parts <= 1) { body(0, count); return; }
        GemmThreadPool.Run(parts, new Job(count, parts, body));
    }

    private sealed class Job(int count, int parts, Action<int, int> body) : IGemmParallelJob
    {
        public void Execute(int part)
        {
            int start = (int)((long)count * part / parts), end = (int)((long)count * (part + 1) / parts);
            if (start < end) body(start, end);
        }
    }

    /// <summary><see cref="Kernels.AddBiasRows"/> over both cores.</summary>
    internal static void AddBiasRows(float[] x, float[] bias, int length = -1)
    {
        if (length < 0) length = x.Length;
        int width = bias.Length, rows = length / width;
        For(rows, length, (r0, r1) => Kernels.AddBiasRows(x.AsSpan(r0 * width, (r1 - r0) * width), bias));
    }
}
