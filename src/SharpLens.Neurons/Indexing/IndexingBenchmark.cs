using SharpLens.Model;
using SharpLens.Neurons.Corpora;

namespace SharpLens.Neurons.Indexing;

/// <summary>Speed of the indexing pass (<c>sharplens bench --suites neurons</c>).</summary>
/// <param name="Tokens">Tokens indexed (BOS excluded).</param>
/// <param name="Seconds">Time of the pass (forward passes, accumulation, checkpoints; not the corpus count or model load).</param>
/// <param name="TokensPerSecond">Tokens per second.</param>
/// <param name="Gflops">Useful floating-point work per second: every projection up to the last MLP and the attention scores and mixing.</param>
public sealed record IndexingBenchmarkResult(long Tokens, double Seconds, double TokensPerSecond, double Gflops);

/// <summary>Times the real indexing pass (every layer, full windows) over a generated corpus in a temporary folder.</summary>
public static class IndexingBenchmark
{
    /// <summary>Indexes <paramref name="windows"/> full windows of <paramref name="context"/> tokens with every layer of <paramref name="model"/>.</summary>
    public static IndexingBenchmarkResult Run(HookedTransformer model, int windows = 48, int context = 128, int batch = 8)
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharplens-neurons-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var random = new Random(0);
            string[] words = [" the", " model", " reads", " a", " window", " of", " text", " and", " every", " neuron", " fires", ".", ",", " We", "'re", " they", " while", "\n"];
            // One long document: every window is full length, as in the bulk of a real corpus.
            var text = string.Concat(Enumerable.Range(0, (windows + 2) * context).Select(_ => words[random.Next(words.Length)]));
            File.WriteAllText(Path.Combine(dir, "bench.txt"), text);
            IndexProgress? last = null;
            NeuronIndexBuilder.Build(model, Corpus.Open(Path.Combine(dir, "bench.txt")), Path.Combine(dir, "bench.db"), new IndexOptions
            {
                Context = context, TopK = 20, BatchWindows = batch, DirectEffectTokens = 0, StopAfterWindows = windows,
                CheckpointInterval = TimeSpan.FromHours(1), Progress = new Progress(p => last = p),
            });
            var c = model.Config;
            double perToken = c.NLayers * (2.0 * (4.0 * c.DModel * c.NHeads * c.DHead + 2.0 * c.DModel * c.DMlp) + 4.0 * c.NHeads * c.DHead * (context + 1) / 2.0);
            double seconds = last!.Elapsed.TotalSeconds;
            return new IndexingBenchmarkResult(last.TokensDone, seconds, last.TokensDone / seconds, perToken * last.TokensDone / seconds / 1e9);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private sealed class Progress(Action<IndexProgress> report) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => report(value);
    }
}
