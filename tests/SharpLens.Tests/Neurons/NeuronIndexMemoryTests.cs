using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// Memory stays bounded whatever the corpus size: indexing a corpus ten times larger (many documents, as real corpora
/// are) raises neither the live heap during the run nor the size of the database. Serial, so the heap measured is this
/// test's alone.
/// </summary>
[Collection(SerialTests.Name)]
public class NeuronIndexMemoryTests
{
    private sealed class Sync(Action<IndexProgress> report) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => report(value);
    }

    /// <summary>Indexes <paramref name="documents"/> documents of ~400 words; returns the largest live heap seen during the pass and the database size.</summary>
    private static (long PeakHeap, long DbBytes, long Windows) Index(TempDir dir, int documents)
    {
        string corpus = dir.File($"corpus-{documents}.jsonl");
        var random = new Random(documents);
        string[] words = [" the", " cat", " sat", " on", " a", " mat", " while", " they", "'re", " helping", " our", " friend", ".", ",", "\n"];
        using (var writer = new StreamWriter(corpus))
            for (int d = 0; d < documents; d++)
                writer.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { text = string.Concat(Enumerable.Range(0, 400).Select(_ => words[random.Next(words.Length)])) }));
        var model = TinyIndexModel.Create();
        string db = dir.File($"n-{documents}.db");
        long peak = 0, reports = 0;
        GC.Collect();
        var result = NeuronIndexBuilder.Build(model, Corpus.Open(corpus), db, new IndexOptions
        {
            Context = 32, TopK = 3, BatchWindows = 8, DirectEffectTokens = 0, CheckpointInterval = TimeSpan.FromMilliseconds(200),
            Progress = new Sync(_ => { if (reports++ % 40 == 0) peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true)); }),
        });
        Assert.True(result.Complete);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return (peak, new FileInfo(db).Length, result.CorpusWindows);
    }

    [Fact]
    public void A_ten_times_larger_corpus_needs_no_more_memory_or_disk()
    {
        using var dir = new TempDir();
        var small = Index(dir, 60);
        var large = Index(dir, 600);
        Assert.True(large.Windows >= 9 * small.Windows, $"{large.Windows} vs {small.Windows} windows");
        // The large corpus is ~1 MB of text (~2 MB as .NET strings, ~1 MB of token ids): holding it, or a record per
        // window, would show as megabytes here.
        Assert.True(large.PeakHeap - small.PeakHeap < 1_000_000, $"live heap grew from {small.PeakHeap:N0} to {large.PeakHeap:N0} bytes");
        // The database holds statistics and the windows top examples point to, not the corpus.
        Assert.True(large.DbBytes < small.DbBytes * 1.5, $"database grew from {small.DbBytes:N0} to {large.DbBytes:N0} bytes");
    }
}
