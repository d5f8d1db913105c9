using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>
/// The GEMM pool's claimed parts: every part runs exactly once whoever claims it (the caller takes the parts a late
/// worker has not started), never more at once than there are cores, over thousands of back-to-back calls of every
/// size, as the forward pass issues them; a part's exception reaches the caller; a nested call runs inline.
/// </summary>
public class GemmThreadPoolTests
{
    private sealed class CountingJob(int parts) : IGemmParallelJob
    {
        public readonly int[] Runs = new int[parts];
        public int Running, MostAtOnce;
        public Func<int, bool>? Throws;
        public Action? Inside;

        public void Execute(int part)
        {
            int now = Interlocked.Increment(ref Running);
            int seen;
            while (now > (seen = Volatile.Read(ref MostAtOnce)) && Interlocked.CompareExchange(ref MostAtOnce, now, seen) != seen) { }
            Interlocked.Increment(ref Runs[part]);
            Inside?.Invoke();
            Interlocked.Decrement(ref Running);
            if (Throws?.Invoke(part) == true) throw new InvalidOperationException($"part {part}");
        }
    }

    [Fact]
    public void EveryPartRunsOnceInEveryCall()
    {
        for (int call = 0; call < 5000; call++)
        {
            int parts = 1 + call % (GemmThreadPool.Parallelism + 2);
            var job = new CountingJob(parts);
            GemmThreadPool.Run(parts, job);
            int expectedParts = Math.Min(parts, GemmThreadPool.Parallelism);
            for (int p = 0; p < parts; p++)
                Assert.True(job.Runs[p] == (p < expectedParts ? 1 : 0), $"call {call}: part {p} of {parts} ran {job.Runs[p]} times");
            Assert.InRange(job.MostAtOnce, 1, GemmThreadPool.Parallelism);
        }
    }

    [Fact]
    public void APartsExceptionReachesTheCallerAndThePoolKeepsWorking()
    {
        int parts = Math.Max(2, GemmThreadPool.Parallelism);
        var failing = new CountingJob(parts) { Throws = p => p == parts - 1 };
        var e = Assert.Throws<InvalidOperationException>(() => GemmThreadPool.Run(parts, failing));
        Assert.Equal($"part {parts - 1}", e.Message);
        var next = new CountingJob(parts);
        GemmThreadPool.Run(parts, next);
        Assert.All(next.Runs.Take(Math.Min(parts, GemmThreadPool.Parallelism)), runs => Assert.Equal(1, runs));
    }

    [Fact]
    public void ANestedCallRunsInline()
    {
        int parts = Math.Max(2, GemmThreadPool.Parallelism);
        var inner = new CountingJob(parts);
        var outer = new CountingJob(parts) { Inside = () => GemmThreadPool.Run(parts, inner) };
        GemmThreadPool.Run(parts, outer);
        int expected = Math.Min(parts, GemmThreadPool.Parallelism);
        Assert.Equal(Enumerable.Repeat(1, expected), outer.Runs.Take(expected));
        Assert.Equal(Enumerable.Repeat(expected, expected), inner.Runs.Take(expected));   // once per outer part
    }
}
