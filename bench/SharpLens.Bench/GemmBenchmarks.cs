using BenchmarkDotNet.Attributes;
using SharpLens.Tensors;

namespace SharpLens.Bench;

/// <summary>The model's GEMM shapes: an MLP up-projection over 512 tokens, and over a 64-token batch.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _a512 = [], _a64 = [], _b = [], _c = [];
    private PackedMatrix _packed = null!;
    private const int K = 768, N = 3072;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _a512 = Fill(rng, 512 * K);
        _a64 = Fill(rng, 64 * K);
        _b = Fill(rng, K * N);
        _c = new float[512 * N];
        _packed = PackedMatrix.Pack(_b, K, N);
    }

    /// <summary>Divide 2·512·768·3072 = 2.416 GFLOP by the mean to get GFLOP/s.</summary>
    [Benchmark(Baseline = true)]
    public void M512_Packed() => Gemm.Multiply(_a512, _packed, _c, 512);

    [Benchmark]
    public void M512_Unpacked() => Gemm.Multiply(_a512, _b, _c, 512, K, N);

    /// <summary>2·64·768·3072 = 0.302 GFLOP.</summary>
    [Benchmark]
    public void M64_Packed() => Gemm.Multiply(_a64, _packed, _c, 64);

    [Benchmark]
    public void M64_Unpacked() => Gemm.Multiply(_a64, _b, _c, 64, K, N);

    private static float[] Fill(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle() - 0.5f;
        return x;
    }
}

/// <summary>The FMA ceiling the GEMM numbers are judged against; the returned GFLOP/s is the result, the time is fixed.</summary>
public class FmaPeakBenchmark
{
    [Benchmark]
    public double MeasureGflops100ms() => FmaPeak.MeasureGflops(TimeSpan.FromMilliseconds(100));
}
