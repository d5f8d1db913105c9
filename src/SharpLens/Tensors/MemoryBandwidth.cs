using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

/// <summary>
/// The machine's practical memory read bandwidth (a STREAM-style read of a buffer far larger than the caches, on
/// every core at once): what a pass that streams its weights once, such as a bf16 model's forward at a few tokens,
/// should be judged against. Like <see cref="FmaPeak"/>, measured rather than taken from a datasheet.
/// </summary>
internal static class MemoryBandwidth
{
    /// <summary>
    /// Reads a <paramref name="bytes"/>-byte buffer (split between the GEMM threads) repeatedly for about
    /// <paramref name="duration"/> and returns the best pass in GB/s (10^9 bytes per second).
    /// </summary>
    public static double MeasureReadGBps(TimeSpan duration, long bytes = 512L << 20)
    {
        long floats = bytes / sizeof(float);
        var buffer = GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
        // Touch every page first so the timed passes read memory, not page faults.
        ParallelRows.For(1024, floats, (b0, b1) => buffer.AsSpan((int)(floats * b0 / 1024), (int)(floats * b1 / 1024 - floats * b0 / 1024)).Fill(1f));
        var job = new ReadJob(buffer);
        double best = 0;
        var total = Stopwatch.StartNew();
        do
        {
            long start = Stopwatch.GetTimestamp();
            GemmThreadPool.Run(GemmThreadPool.Parallelism, job);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, floats * sizeof(float) / seconds / 1e9);
        }
        while (total.Elapsed < duration);
        GC.KeepAlive(job.Sink);
        return best;
    }

    private sealed class ReadJob(float[] buffer) : IGemmParallelJob
    {
        public float Sink;

        public void Execute(int part)
        {
            int parts = GemmThreadPool.Parallelism;
            long start = (long)buffer.Length * part / parts, end = (long)buffer.Length * (part + 1) / parts;
            float sum = Sum(buffer.AsSpan((int)start, (int)(end - start)));
            Sink += sum; // racy on purpose: only keeps the reads from being optimised away
        }

        /// <summary>Four independent accumulators of the widest vector, so the loads, not the adds, set the pace.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        private static unsafe float Sum(ReadOnlySpan<float> values)
        {
            fixed (float* p = values)
            {
                int n = values.Length, w = Vector512<float>.Count, i = 0;
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (; i <= n - 4 * w; i += 4 * w)
                {
                    s0 += Vector512.Load(p + i); s1 += Vector512.Load(p + i + w);
                    s2 += Vector512.Load(p + i + 2 * w); s3 += Vector512.Load(p + i + 3 * w);
                }
                float sum = Vector512.Sum(s0 + s1 + s2 + s3);
                for (; i < n; i++) sum += p[i];
                return sum;
            }
        }
    }
}
