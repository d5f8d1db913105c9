using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLens.Tensors;

/// <summary>
/// The machine's practical single-precision FMA ceiling: what a GEMM's GFLOP/s should be judged
/// against (the nominal clock lies once wide vectors and all cores are busy, so measure, don't compute).
/// </summary>
internal static class FmaPeak
{
    /// <summary>
    /// Runs a register-only FMA loop on every core at once for about <paramref name="duration"/>
    /// and returns the aggregate GFLOP/s (one FMA lane = 2 flops).
    /// </summary>
    public static double MeasureGflops(TimeSpan duration)
    {
        int threads = Environment.ProcessorCount;
        var flops = new double[threads];
        long stopAt = 0;
        using var ready = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                // Warm up so the loop is fully JIT-compiled and the cores have left any low clock state.
                Spin(1 << 14, out _);
                ready.SignalAndWait();
                // At least one chunk: on a loaded host a worker may first run after the deadline has passed.
                double done = 0;
                do done += Spin(1 << 14, out _);
                while (Stopwatch.GetTimestamp() < Volatile.Read(ref stopAt));
                flops[id] = done;
            }) { IsBackground = true };
            workers[t].Start();
        }
        // The deadline must be set before the barrier releases the workers, or they would see 0 and quit.
        long start = Stopwatch.GetTimestamp();
        Volatile.Write(ref stopAt, start + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        ready.SignalAndWait();
        foreach (var w in workers) w.Join();
        double seconds = (double)(Stopwatch.GetTimestamp() - start) / Stopwatch.Frequency;
        return flops.Sum() / seconds / 1e9;
    }

    /// <summary>Returns flops done. 12 independent chains: more than latency (4) x FMA ports (2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double Spin(int iterations, out float sink)
    {
        if (Avx512F.IsSupported)
        {
            var m = Vector512.Create(0.999999f); var d = Vector512.Create(1e-7f);
            Vector512<float> x0 = Vector512.Create(1f), x1 = x0 + d, x2 = x1 + d, x3 = x2 + d, x4 = x3 + d, x5 = x4 + d,
                x6 = x5 + d, x7 = x6 + d, x8 = x7 + d, x9 = x8 + d, x10 = x9 + d, x11 = x10 + d;
            for (int i = 0; i < iterations; i++)
            {
                x0 = Avx512F.FusedMultiplyAdd(x0, m, d); x1 = Avx512F.FusedMultiplyAdd(x1, m, d);
                x2 = Avx512F.FusedMultiplyAdd(x2, m, d); x3 = Avx512F.FusedMultiplyAdd(x3, m, d);
                x4 = Avx512F.FusedMultiplyAdd(x4, m, d); x5 = Avx512F.FusedMultiplyAdd(x5, m, d);
                x6 = Avx512F.FusedMultiplyAdd(x6, m, d); x7 = Avx512F.FusedMultiplyAdd(x7, m, d);
                x8 = Avx512F.FusedMultiplyAdd(x8, m, d); x9 = Avx512F.FusedMultiplyAdd(x9, m, d);
                x10 = Avx512F.FusedMultiplyAdd(x10, m, d); x11 = Avx512F.FusedMultiplyAdd(x11, m, d);
            }
            sink = Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
            return (double)iterations * 12 * 16 * 2;
        }
        if (Fma.IsSupported)
        {
            var m = Vector256.Create(0.999999f); var d = Vector256.Create(1e-7f);
            Vector256<float> x0 = Vector256.Create(1f), x1 = x0 + d, x2 = x1 + d, x3 = x2 + d, x4 = x3 + d, x5 = x4 + d,
                x6 = x5 + d, x7 = x6 + d, x8 = x7 + d, x9 = x8 + d, x10 = x9 + d, x11 = x10 + d;
            for (int i = 0; i < iterations; i++)
            {
                x0 = Fma.MultiplyAdd(x0, m, d); x1 = Fma.MultiplyAdd(x1, m, d);
                x2 = Fma.MultiplyAdd(x2, m, d); x3 = Fma.MultiplyAdd(x3, m, d);
                x4 = Fma.MultiplyAdd(x4, m, d); x5 = Fma.MultiplyAdd(x5, m, d);
                x6 = Fma.MultiplyAdd(x6, m, d); x7 = Fma.MultiplyAdd(x7, m, d);
                x8 = Fma.MultiplyAdd(x8, m, d); x9 = Fma.MultiplyAdd(x9, m, d);
                x10 = Fma.MultiplyAdd(x10, m, d); x11 = Fma.MultiplyAdd(x11, m, d);
            }
            sink = Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
            return (double)iterations * 12 * 8 * 2;
        }
        {
            var m = Vector128.Create(0.999999f); var d = Vector128.Create(1e-7f);
            Vector128<float> x0 = Vector128.Create(1f), x1 = x0 + d, x2 = x1 + d, x3 = x2 + d, x4 = x3 + d, x5 = x4 + d,
                x6 = x5 + d, x7 = x6 + d, x8 = x7 + d, x9 = x8 + d, x10 = x9 + d, x11 = x10 + d;
            for (int i = 0; i < iterations; i++)
            {
                x0 = Vector128.MultiplyAddEstimate(x0, m, d); x1 = Vector128.MultiplyAddEstimate(x1, m, d);
                x2 = Vector128.MultiplyAddEstimate(x2, m, d); x3 = Vector128.MultiplyAddEstimate(x3, m, d);
                x4 = Vector128.MultiplyAddEstimate(x4, m, d); x5 = Vector128.MultiplyAddEstimate(x5, m, d);
                x6 = Vector128.MultiplyAddEstimate(x6, m, d); x7 = Vector128.MultiplyAddEstimate(x7, m, d);
                x8 = Vector128.MultiplyAddEstimate(x8, m, d); x9 = Vector128.MultiplyAddEstimate(x9, m, d);
                x10 = Vector128.MultiplyAddEstimate(x10, m, d); x11 = Vector128.MultiplyAddEstimate(x11, m, d);
            }
            sink = Vector128.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
            return (double)iterations * 12 * 4 * 2;
        }
    }
}
