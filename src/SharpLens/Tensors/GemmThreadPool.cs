using System.Runtime.ExceptionServices;

namespace SharpLens.Tensors;

/// <summary>One share of a parallel GEMM; <see cref="GemmThreadPool"/> calls it once per part.</summary>
internal interface IGemmParallelJob
{
    void Execute(int part);
}

/// <summary>
/// A tiny fixed pool of dedicated threads for GEMM. Parallel.For on the shared pool sometimes ran
/// both halves on one thread (the other worker busy or not yet injected), halving throughput; here
/// each part has its own thread and the caller runs part 0, so every core works for the whole call. Waits spin briefly before blocking, since back-to-back GEMMs in a
/// forward pass arrive microseconds apart.
/// </summary>
internal static class GemmThreadPool
{
    public static int Parallelism { get; } = Math.Clamp(Environment.ProcessorCount, 1, 64);

    private static readonly object Gate = new();
    private static ManualResetEventSlim[]? _start;
    private static CountdownEvent? _done;
    private static IGemmParallelJob? _job;
    private static Exception? _error;

    /// <summary>Runs job.Execute(0..parts-1) concurrently and returns when all are done.</summary>
    public static void Run(int parts, IGemmParallelJob job)
    {
        parts = Math.Min(parts, Parallelism);
        // Busy (another thread is mid-GEMM, or this is a nested call): run inline rather than queue,
        // the other caller already owns the cores.
        if (parts <= 1 || !Monitor.TryEnter(Gate))
        {
            for (int i = 0; i < parts; i++) job.Execute(i);
            return;
        }
        try
        {
            EnsureStarted();
            _job = job;
            _error = null;
            _done!.Reset(parts - 1);
            for (int i = 1; i < parts; i++) _start![i].Set();
            try { job.Execute(0); }
            finally { _done.Wait(); _job = null; }
            if (_error is { } e) ExceptionDispatchInfo.Throw(e);
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void EnsureStarted()
    {
        if (_start != null) return;
        var start = new ManualResetEventSlim[Parallelism];
        _done = new CountdownEvent(1);
        for (int i = 1; i < Parallelism; i++)
        {
            start[i] = new ManualResetEventSlim(false, spinCount: 2000);
            int part = i;
            var ev = start[i];
            new Thread(() => Worker(part, ev)) { IsBackground = true, Name = $"SharpLens GEMM {i}" }.Start();
        }
        _start = start;
    }

    private static void Worker(int part, ManualResetEventSlim start)
    {
        while (true)
        {
            start.Wait();
            start.Reset();
            try { _job!.Execute(part); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            finally { _done!.Signal(); }
        }
    }
}
