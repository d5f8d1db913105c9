using System.Diagnostics;
using SharpLens.Tensors;

namespace SharpLens.Bench;

/// <summary>
/// `quick-dtype [seconds] [rows...]`: packed GEMMs of the Llama-3.2-1B layer shapes with float32, bfloat16 and float16
/// weights, interleaved (each round times every type once), against the memory-read and FMA limits measured in the
/// same run. Best-of times; noisy on a shared machine.
/// </summary>
internal static class QuickDtypeGemm
{
    public static void Run(string[] args)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        double seconds = args.Length > 0 ? double.Parse(args[0], inv) : 1.0;
        int[] rows = args.Length > 1 ? args[1..].Select(int.Parse).ToArray() : [1, 8, 64];
        double readGBps = MemoryBandwidth.MeasureReadGBps(TimeSpan.FromSeconds(seconds));
        double peak = FmaPeak.MeasureGflops(TimeSpan.FromSeconds(seconds));
        Console.WriteLine($"cores={Environment.ProcessorCount} isa={GemmIsaSelector.Best} read={readGBps:F1} GB/s fma={peak:F1} GFLOP/s");
        // q/k/v fused, o, gate+up fused, down: one Llama-3.2-1B block (d_model 2048, 8 KV heads of 64, d_mlp 8192).
        foreach (var (k, n, name) in new[] { (2048, 3072, "qkv"), (2048, 2048, "o"), (2048, 16384, "gate_up"), (8192, 2048, "down") })
        {
            var rng = new Random(1);
            var b = new float[k * n];
            for (int i = 0; i < b.Length; i++) b[i] = rng.NextSingle() - 0.5f;
            var packed = new[] { Dtype.F32, Dtype.BF16, Dtype.F16 }.Select(t => PackedMatrix.Pack(b, k, n, storage: t)).ToArray();
            foreach (int m in rows)
            {
                var a = new float[m * k];
                for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle() - 0.5f;
                var c = new float[m * n];
                var best = new double[packed.Length];
                Array.Fill(best, double.MaxValue);
                var total = Stopwatch.StartNew();
                foreach (var p in packed) Gemm.Multiply(a, p, c, m);
                while (total.Elapsed.TotalSeconds < seconds * 2)
                    for (int t = 0; t < packed.Length; t++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        Gemm.Multiply(a, packed[t], c, m);
                        best[t] = Math.Min(best[t], Stopwatch.GetElapsedTime(start).TotalSeconds);
                    }
                var line = $"{name} {m}x{k}x{n}:";
                for (int t = 0; t < packed.Length; t++)
                {
                    double memory = packed[t].StorageBytes / (readGBps * 1e9), compute = 2.0 * m * k * n / (peak * 1e9);
                    line += $"  {packed[t].Dtype} {best[t] * 1e6:F0} us (x{best[t] / Math.Max(memory, compute):F2} of limit)";
                }
                Console.WriteLine(line);
            }
        }
    }
}
