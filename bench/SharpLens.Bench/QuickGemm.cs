using System.Diagnostics;
using SharpLens.Tensors;

namespace SharpLens.Bench;

/// <summary>Stopwatch GFLOP/s of the model's GEMM shapes against the measured FMA peak (noisy; for quick checks).</summary>
internal static class QuickGemm
{
    public static void Run(string[] args)
    {
        double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1.0;
        if (Environment.GetEnvironmentVariable("SHARPLENS_DIRECTB_ROWS") is { } rows) GemmDriver.DirectBMaxRows = int.Parse(rows);
        Console.WriteLine($"directB<={GemmDriver.DirectBMaxRows} cores={Environment.ProcessorCount} isa={GemmIsaSelector.Best}");
        double peak = Peak(seconds);
        // Preemption-proof view for a shared machine: flops per second of this process's CPU time.
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var peakWall = Stopwatch.StartNew();
        double peakFlops = FmaPeak.MeasureGflops(TimeSpan.FromSeconds(seconds)) * peakWall.Elapsed.TotalSeconds;
        double peakCpu = peakFlops / (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        Console.WriteLine($"fma GFLOP per CPU-second={peakCpu:F1} (x{Environment.ProcessorCount} cores = {peakCpu * Environment.ProcessorCount:F1})");
        Console.WriteLine($"fma_peak_gflops={peak:F1} (best 20 ms window; one {seconds}s window: {FmaPeak.MeasureGflops(TimeSpan.FromSeconds(seconds)):F1})");
        foreach (var (m, k, n, ta, tb) in new[] { (8, 64, 8, false, true), (8, 8, 64, false, false), (8, 64, 8, false, false), (64, 64, 64, true, false), (64, 64, 64, false, true) })
        {
            var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
            for (int i = 0; i < 1000; i++) Gemm.Multiply(a, b, c, m, k, n, ta, tb);
            double best = double.MaxValue;
            for (int rep = 0; rep < 20; rep++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < 1000; i++) Gemm.Multiply(a, b, c, m, k, n, ta, tb);
                best = Math.Min(best, sw.Elapsed.TotalMicroseconds / 1000);
            }
            Console.WriteLine($"tiny {m}x{k}x{n} ta={ta} tb={tb}: {best:F2} us/call (best of 20x1000)");
        }
        foreach (var (m, k, n) in new[] { (512, 768, 3072), (64, 768, 3072), (64, 768, 2304), (64, 768, 768), (1024, 768, 768), (8, 768, 3072) })
        {
            var rng = new Random(1);
            var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
            for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle() - 0.5f;
            for (int i = 0; i < b.Length; i++) b[i] = rng.NextSingle() - 0.5f;
            var packed = PackedMatrix.Pack(b, k, n);
            double gPacked = Measure(() => Gemm.Multiply(a, packed, c, m), m, k, n, seconds);
            double gRaw = Measure(() => Gemm.Multiply(a, b, c, m, k, n), m, k, n, seconds);
            double cPacked = PerCpuSecond(() => Gemm.Multiply(a, packed, c, m), m, k, n, seconds);
            double cRaw = PerCpuSecond(() => Gemm.Multiply(a, b, c, m, k, n), m, k, n, seconds);
            Console.WriteLine($"{m}x{k}x{n}: packed {gPacked:F1} GFLOP/s ({gPacked / peak:P0} of peak), unpacked {gRaw:F1} GFLOP/s ({gRaw / peak:P0}); " +
                $"per CPU-second: packed {cPacked:F1} ({cPacked / peakCpu:P0} of FMA per CPU-s), unpacked {cRaw:F1} ({cRaw / peakCpu:P0})");
        }
        double again = Peak(seconds);
        Console.WriteLine($"fma_peak_gflops (again)={again:F1}");
    }

    private static double PerCpuSecond(Action gemm, int m, int k, int n, double seconds)
    {
        var proc = Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        var total = Stopwatch.StartNew();
        long calls = 0;
        while (total.Elapsed.TotalSeconds < seconds) { gemm(); calls++; }
        proc.Refresh();
        return 2.0 * m * k * n * calls / (proc.TotalProcessorTime - cpu0).TotalSeconds / 1e9;
    }

    private static double Peak(double seconds)
    {
        double best = 0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds) best = Math.Max(best, FmaPeak.MeasureGflops(TimeSpan.FromMilliseconds(20)));
        return best;
    }

    private static double Measure(Action gemm, int m, int k, int n, double seconds)
    {
        for (int i = 0; i < 3; i++) gemm();
        // Best of short batches: other processes share these cores, the minimum is the least disturbed.
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds)
        {
            var sw = Stopwatch.StartNew();
            gemm();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * m * k * n / best / 1e9;
    }
}
