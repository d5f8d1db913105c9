using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// The forward pass reuses the memory of dead activations (<see cref="ForwardOptions.Pool"/>). Reuse must never be
/// visible: nothing a hook may keep, the cache holds, a hook supplied or the pass returns is overwritten.
/// </summary>
public class ActivationMemoryTests
{
    private static readonly HookedTransformer Model = Fixtures.Load("tiny-b", processed: true);
    private static readonly TokenBatch Clean = Fixtures.Tokens("tiny-b").CleanBatch;

    [Fact]
    public void EveryActivationAKeepingHookSawStillHoldsItsValuesAfterThePass()
    {
        var kept = new List<(string Name, Tensor Seen, float[] Copy)>();
        var hooks = Model.HookPointNames.Select(n => new Hook(n, (act, _) => { kept.Add((n, act, (float[])act.Data.Clone())); return null; })).ToList();
        Model.Run(Clean, new ForwardOptions { Hooks = hooks, Pool = new TensorPool() });
        Assert.Equal(Model.HookPointNames.Count, kept.Count);
        foreach (var (name, seen, copy) in kept) Assert.True(seen.Data.AsSpan().SequenceEqual(copy), $"{name} was overwritten after its hook ran");
    }

    [Fact]
    public void EveryCachedActivationStillHoldsWhatItsHookSawWhenOnlyReadingHooksAlsoRun()
    {
        // Reading hooks (HooksKeepActivations = false) let the pass reuse hooked memory, but never what the cache holds.
        var seen = new Dictionary<string, float[]>();
        var hooks = Model.HookPointNames.Select(n => new Hook(n, (act, _) => { seen[n] = (float[])act.Data.Clone(); return null; })).ToList();
        var cache = new ActivationCache(Model);
        Model.Run(Clean, new ForwardOptions { Hooks = hooks, Cache = cache, HooksKeepActivations = false, Pool = new TensorPool() });
        foreach (var name in Model.HookPointNames)
            Assert.True(cache[name].Data.AsSpan().SequenceEqual(seen[name]), $"cached {name} was overwritten later in the pass");
    }

    [Fact]
    public void ReplacementsFromHooksAreNeverWrittenOverOrReused()
    {
        // Activation patching returns tensors from another run's cache; the pass must treat them as read-only.
        var (_, clean) = Model.RunWithCache(Clean);
        var before = Model.HookPointNames.ToDictionary(n => n, n => (float[])clean[n].Data.Clone());
        var patchEverything = Model.HookPointNames.Select(n => new Hook(n, (_, _) => clean[n])).ToList();
        var pool = new TensorPool();
        for (int pass = 0; pass < 2; pass++)
            Model.Run(Clean, new ForwardOptions { Hooks = patchEverything, HooksKeepActivations = false, Pool = pool });
        foreach (var name in Model.HookPointNames)
            Assert.True(clean[name].Data.AsSpan().SequenceEqual(before[name]), $"the patched-in {name} was modified");
    }

    [Theory]
    [InlineData(LogitsMode.All)]
    [InlineData(LogitsMode.Final)]
    public void PassesSharingAPoolGiveBitIdenticalResultsToAFreshPass(LogitsMode logits)
    {
        var fresh = Model.Run(Clean, new ForwardOptions { Logits = logits, Pool = null });
        var pool = new TensorPool();
        for (int pass = 0; pass < 3; pass++)
        {
            var pooled = Model.Run(Clean, new ForwardOptions { Logits = logits, Pool = pool });
            TensorAssert.Close(fresh, pooled, $"pass {pass} with a shared pool", 0f);
        }
    }

    [Fact]
    public void ASecondPassOfTheSameShapeTakesItsActivationsFromTheSharedPool()
    {
        // The neuron index's case: reading hooks, a stop after the last hook_post, one pool for every batch. Wide enough
        // that activations, not per-call bookkeeping, are what a pass would allocate.
        var model = RandomWeights.CreateModel(new ModelConfig { NLayers = 3, DModel = 64, NHeads = 4, DHead = 16, DMlp = 256, DVocab = 50, NCtx = 32 });
        var rows = Enumerable.Range(0, 4).Select(b => (IReadOnlyList<int>)Enumerable.Range(0, 32).Select(i => (i * 7 + b) % 50).ToArray()).ToList();
        var tokens = new TokenBatch(rows, 0);
        string stop = HookNames.MlpPost(model.Config.NLayers - 1);
        var read = Enumerable.Range(0, model.Config.NLayers).Select(l => new Hook(HookNames.MlpPost(l), (_, _) => null)).ToList();
        var pool = new TensorPool();
        var options = new ForwardOptions { Hooks = read, StopAfter = stop, Pool = pool, HooksKeepActivations = false };
        long Allocated(Action run)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            run();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long first = Allocated(() => pool.Give(model.Run(tokens, options).Data));
        long second = Allocated(() => pool.Give(model.Run(tokens, options).Data));
        long mlpActivation = 4L * 32 * model.Config.DMlp * sizeof(float);
        Assert.True(pool.FreeBytes >= mlpActivation, $"the pool holds {pool.FreeBytes} bytes after two passes");
        // What remains is per-call bookkeeping (delegates, shapes, LayerNorm scales) and the embeddings.
        Assert.True(first > 3 * mlpActivation, $"the first pass allocated only {first} bytes");
        Assert.True(second < mlpActivation, $"the second pass allocated {second} bytes, more than one hook_post ({mlpActivation})");
    }

    [Fact]
    public void APoolKeepsNoMoreThanItsCapacityAndLendsOnlyExactLengths()
    {
        var pool = new TensorPool(capacityBytes: 100 * sizeof(float));
        var a = new float[60];
        var b = new float[60];
        pool.Give(a);
        pool.Give(b); // over capacity: dropped
        Assert.Equal(60 * sizeof(float), pool.FreeBytes);
        Assert.NotSame(a, pool.Take(59));
        Assert.Same(a, pool.Take(60));
        Assert.Equal(0, pool.FreeBytes);
        Assert.NotSame(b, pool.Take(60));
    }
}
