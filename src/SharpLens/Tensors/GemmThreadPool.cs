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
/// each worker has its own thread, woken per call, and waits spin briefly before blocking, since back-to-back GEMMs in
/// a forward pass arrive microseconds apart. Parts are claimed, not assigned: the caller and the workers take the next
/// unclaimed part until none is left, and the caller waits only for parts a worker actually started. So no hand-off
/// costs more than the work: a worker the OS has not scheduled yet (a loaded machine, a small GEMM that is done in
/// microseconds) leaves its part to the caller instead of the caller sleeping until the worker runs; at worst a call
/// takes its single-threaded time.
/// </summary>
internal static class GemmThreadPool
{
    public static int Parallelism { get; } = Math.Clamp(Environment.ProcessorCount, 1, 64);

    private static readonly object Gate = new();
    private static ManualResetEventSlim[]? _start;
    /// <summary>Set by whoever finishes the last part of the current call.</summary>
    private static readonly ManualResetEventSlim AllDone = new(false, spinCount: 2000);
    private static Work? _work;

    /// <summary>One call's parts: a new object per call, so a worker that wakes late can only find a finished call.</summary>
    private sealed class Work(IGemmParallelJob job, int parts)
    {
        public readonly IGemmParallelJob Job = job;
        public readonly int Parts = parts;
        public int Next, Finished;
        public Exception? Error;
    }

    /// <summary>Runs job.Execute(0..parts-1), each part once and at most <see cref="Parallelism"/> at a time, and
    /// returns when all are done.</summary>
    public static void Run(int parts, IGemmParallelJob job)
    {
        parts = Math.Min(parts, Parallelism);
        // Busy (another thread is mid-GEMM, or this is a nested call): run inline rather than queue,
        // the other caller already owns the cores.
        if (parts <= 1 || Monitor.IsEntered(Gate) || !Monitor.TryEnter(Gate))
        {
            for (int i = 0; i < parts; i++) job.Execute(i);
            return;
        }
        try
        {
            EnsureStarted();
            var work = new Work(job, parts);
            AllDone.Reset();
            Volatile.Write(ref _work, work);
            for (int i = 1; i < parts; i++) _start![i].Set();
            RunParts(work);
            if (Volatile.Read(ref work.Finished) < parts) AllDone.Wait();
            Volatile.Write(ref _work, null);
            if (work.Error is { } e) ExceptionDispatchInfo.Throw(e);
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    /// <summary>Claims and runs parts of <paramref name="work"/> until every part is claimed.</summary>
    private static void RunParts(Work work)
    {
        int part;
        while ((part = Interlocked.Increment(ref work.Next) - 1) < work.Parts)
        {
            try { work.Job.Execute(part); }
            catch (Exception e) { Interlocked.CompareExchange(ref work.Error, e, null); }
            if (Interlocked.Increment(ref work.Finished) == work.Parts) AllDone.Set();
        }
    }

    private static void EnsureStarted()
    {
        if (_start != null) return;
        var start = new ManualResetEventSlim[Parallelism];
        for (int i = 1; i < Parallelism; i++)
        {
            start[i] = new ManualResetEventSlim(false, spinCount: 2000);
            var ev = start[i];
            new Thread(() => Worker(ev)) { IsBackground = true, Name = $"SharpLens GEMM {i}" }.Start();
        }
        _start = start;
    }

    private static void Worker(ManualResetEventSlim start)
    {
        while (true)
        {
            start.Wait();
            start.Reset();
            // Read after the reset: a call published after an earlier wake-up is still seen.
            if (Volatile.Read(ref _work) is { } work) RunParts(work);
        }
    }
}
