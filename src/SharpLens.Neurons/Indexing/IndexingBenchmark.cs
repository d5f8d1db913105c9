using SharpLens.Model;
using SharpLens.Corpora;

namespace SharpLens.Neurons.Indexing;

/// <summary>Speed of the indexing pass (<c>sharplens bench --suites neurons</c>).</summary>
/// <param name="Tokens">Tokens of the timed windows (BOS excluded; the warm-up windows are not counted).</param>
/// <param name="Seconds">Time of the pass over the timed windows (forward passes, accumulation; not the warm-up, the corpus count, the model load or the final save).</param>
/// <param name="TokensPerSecond">Tokens per second.</param>
/// <param name="Gflops">Floating-point work the pass performs per second (<see cref="IndexingBenchmark.FlopsPerWindow"/>).</param>
public sealed record IndexingBenchmarkResult(long Tokens, double Seconds, double TokensPerSecond, double Gflops);

/// <summary>
/// Times the real indexing pass (every layer, full windows) over a generated corpus in a temporary folder. The pass
/// is measured as it runs on a real corpus, after its first <c>warmupWindows</c>: those run first in the same index and
/// are not timed, because the first batches also pay for compiling the hot loops (the JIT recompiles them in tiers)
/// and for the first touch of the activation memory the later batches reuse; the Brown corpus is about 1,300 batches.
/// </summary>
public static class IndexingBenchmark
{
    /// <summary>Indexes <paramref name="warmupWindows"/> + <paramref name="windows"/> full windows of
    /// <paramref name="context"/> tokens with every layer of <paramref name="model"/> and times the last
    /// <paramref name="windows"/>.</summary>
    public static IndexingBenchmarkResult Run(HookedTransformer model, int windows = 48, int context = 128, int batch = 8, int warmupWindows = 16)
    {
        if (warmupWindows % batch != 0 || windows % batch != 0)
            throw new ArgumentException("windows and warm-up windows must be whole batches");
        string dir = Path.Combine(Path.GetTempPath(), "sharplens-neurons-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            // One long document: every window is full length, as in the bulk of a real corpus.
            WriteCorpus(Path.Combine(dir, "bench.txt"), (warmupWindows + windows + 2) * context);
            IndexProgress? warm = null, last = null;
            NeuronIndexBuilder.Build(model, Corpus.Open(Path.Combine(dir, "bench.txt")), Path.Combine(dir, "bench.db"), new IndexOptions
            {
                Context = context, TopK = 20, BatchWindows = batch, DirectEffectTokens = 0, StopAfterWindows = warmupWindows + windows,
                CheckpointInterval = TimeSpan.FromHours(1),
                Progress = new Progress(p => { if (p.WindowsDone == warmupWindows) warm = p; last = p; }),
            });
            var start = warm ?? new IndexProgress(0, last!.WindowsTotal, 0, TimeSpan.Zero);
            double seconds = (last!.Elapsed - start.Elapsed).TotalSeconds;
            long tokens = last.TokensDone - start.TokensDone, timedWindows = last.WindowsDone - start.WindowsDone;
            return new IndexingBenchmarkResult(tokens, seconds, tokens / seconds,
                FlopsPerWindow(model.Config, context, model.Config.NLayers - 1) * timedWindows / seconds / 1e9);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Writes a one-document text corpus of <paramref name="words"/> words drawn from a small English-like vocabulary
    /// (about one GPT-2 token and 4.2 bytes each): the benchmarks' stand-in for a real corpus.
    /// </summary>
    public static void WriteCorpus(string path, int words, int seed = 0)
    {
        var random = new Random(seed);
        string[] vocabulary = [" the", " model", " reads", " a", " window", " of", " text", " and", " every", " neuron", " fires", ".", ",", " We", "'re", " they", " while", "\n"];
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, words).Select(_ => vocabulary[random.Next(vocabulary.Length)])));
    }

    /// <summary>
    /// Multiply-adds (2 flops each) the indexing pass performs on one window of <paramref name="pos"/> rows (BOS included:
    /// it is computed like every other row) when the last indexed layer is <paramref name="lastLayer"/>: per block the Q/K/V,
    /// W_O and W_in projections at every row, W_out in every block but the last indexed one (the pass stops after its
    /// hook_post), and causal attention (query row i scores and mixes i + 1 keys: pos·(pos+1)/2 pairs per head, each a
    /// d_head dot product and a d_head axpy). LayerNorm, softmax, GELU, biases and the statistics are not counted.
    /// </summary>
    public static double FlopsPerWindow(ModelConfig c, int pos, int lastLayer)
    {
        int blocks = lastLayer + 1;
        double projectionsPerRow = 2.0 * (4.0 * c.DModel * c.NHeads * c.DHead + 2.0 * c.DModel * c.DMlp);
        double attentionPerWindow = 2.0 * 2.0 * c.NHeads * c.DHead * pos * (pos + 1) / 2.0;
        return blocks * (pos * projectionsPerRow + attentionPerWindow) - pos * 2.0 * c.DModel * c.DMlp;
    }

    private sealed class Progress(Action<IndexProgress> report) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => report(value);
    }
}
