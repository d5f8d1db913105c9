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

    /// <summary>
    /// The four weight products of one Llama-3.2-1B block (d_model 2048, 32 query and 8 key/value heads of 64, d_mlp
    /// 8192: q/k/v fused [2048, 3072], o [2048, 2048], gate/up fused [2048, 16384], down [8192, 2048]) with bfloat16
    /// weights packed from random bits, on <paramref name="rows"/> rows: the median seconds of the four together and
    /// the bytes of weights they read. Until the Llama families run whole, this is that model's forward per layer at
    /// the kernel level; at a few rows it is bound by memory, so it is judged against the weights' read time.
    /// </summary>
    public static (double Seconds, long WeightBytes) MeasureLlama1bLayerBf16(int rows, int repeats = 3, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        var random = new Random(seed);
        var shapes = new[] { (2048, 3072), (2048, 2048), (2048, 16384), (8192, 2048) };
        var weights = shapes.Select(shape =>
        {
            // Finite bfloat16 values of magnitude below 2 (sign, exponent 0x00-0x7F, any mantissa), no float32 copy.
            var bits = new ushort[shape.Item1 * shape.Item2];
            for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)(random.Next(0x3F80) | (random.Next(2) << 15));
            return PackedMatrix.Pack(bits, Dtype.BF16, shape.Item1, shape.Item2);
        }).ToArray();
        var a = new float[rows * 8192];
        for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextDouble() - 0.5f;
        var c = new float[rows * 16384];
        double seconds = MedianSeconds(repeats, () =>
        {
            foreach (var w in weights) Gemm.Multiply(a.AsSpan(0, rows * w.K), w, c, rows);
        });
        return (seconds, weights.Sum(w => w.StorageBytes));
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
