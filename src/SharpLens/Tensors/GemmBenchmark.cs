using System.Diagnostics;

namespace SharpLens.Tensors;

/// <summary>This machine's SGEMM speed (packed and unpacked weights) next to its FMA peak, measured in one run.</summary>
/// <param name="Isa">the micro-kernel the GEMM runs (AVX-512, AVX2, Vector128 or scalar)</param>
/// <param name="PackedGflops">[m, k]·[k, n] with the weights packed once, as the model multiplies</param>
/// <param name="UnpackedGflops">the same product from a plain row-major [k, n]</param>
/// <param name="FmaPeakGflops">a register-only FMA loop on every core: the arithmetic ceiling of this machine now</param>
/// <param name="ReadGBps">a STREAM-style read of a 512 MB buffer on every core (10^9 bytes per second): the ceiling of
/// a pass that streams its weights once</param>
public sealed record GemmSpeed(string Isa, double PackedGflops, double UnpackedGflops, double FmaPeakGflops, double ReadGBps);

/// <summary>
/// Times the library's own SGEMM (<c>sharplens bench</c>'s core suite): a [512, 768]·[768, 3072] product, GPT-2 small's
/// MLP input for 512 rows, and the FMA peak and memory read bandwidth of the same moment, because shared machines drift
/// by tens of percent.
/// </summary>
public static class GemmBenchmark
{
    /// <summary>The micro-kernel the GEMM runs on this CPU (e.g. "Avx512").</summary>
    public static string Isa => Gemm.ActiveIsa;

    /// <summary>Rows, inner size and columns of the timed product.</summary>
    public const int M = 512, K = 768, N = 3072;

    /// <summary>Medians of <paramref name="repeats"/> timed products (after one warm-up each) and of five FMA-peak runs;
    /// the best of about a second of reads.</summary>
    public static GemmSpeed Measure(int repeats = 3, int seed = 0)
    {
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), "time the product at least once");
        var random = new Random(seed);
        var a = new float[M * K];
        var b = new float[K * N];
        for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)random.NextDouble() - 0.5f;
        var packed = PackedMatrix.Pack(b, K, N);
        var c = new float[M * N];
        double Gflops(double seconds) => Math.Round(2.0 * M * K * N / seconds / 1e9, 1);
        double packedGflops = Gflops(MedianSeconds(repeats, () => Gemm.Multiply(a, packed, c, M)));
        double unpackedGflops = Gflops(MedianSeconds(repeats, () => Gemm.Multiply(a, b, c, M, K, N)));
        var peaks = Enumerable.Range(0, 5).Select(_ => FmaPeak.MeasureGflops(TimeSpan.FromMilliseconds(200))).Order().ToArray();
        double readGBps = MemoryBandwidth.MeasureReadGBps(TimeSpan.FromSeconds(1));
        return new GemmSpeed(Isa, packedGflops, unpackedGflops, Math.Round(peaks[peaks.Length / 2], 1), Math.Round(readGBps, 1));
    }

    private static double MedianSeconds(int n, Action action)
    {
        action();
        var times = new double[n];
        for (int i = 0; i < n; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times[i] = watch.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[n / 2];
    }
}
