using Microsoft.Data.Sqlite;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Tests.Loading;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// The index against a brute-force computation on a tiny random model: every window run on its own, every neuron,
/// every example sorted, including exact ties (two identical documents) and windows at document ends; and a resumed
/// run and merged shards against the single run, table by table.
/// </summary>
public class NeuronIndexCorrectnessTests
{
    private const int Context = 16, TopK = 5;

    private static IndexOptions Options => new() { Context = Context, TopK = TopK, BatchWindows = 3, DirectEffectTokens = 4 };

    private sealed record Window(long Id, int[] Tokens);

    /// <summary>Windows made independently of the library: each document's tokens in chunks of context-1 after BOS.</summary>
    private static List<Window> BruteWindows(Corpus corpus, Tokenizer tok)
    {
        var windows = new List<Window>();
        foreach (var doc in corpus.Documents())
        {
            var ids = tok.ToTokens(doc.Text, prependBos: false);
            for (int s = 0; s < ids.Length; s += Context - 1)
                windows.Add(new Window(windows.Count, [Gpt2Tokenizer.EndOfText, .. ids.Skip(s).Take(Context - 1)]));
        }
        return windows;
    }

    [Fact]
    public void TopExamplesAndStatisticsEqualBruteForceIncludingTiesAndDocumentEnds()
    {
        using var dir = new TempDir();
        var model = TinyIndexModel.Create();
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus")));
        string db = dir.File("n.db");
        var result = NeuronIndexBuilder.Build(model, corpus, db, Options);
        Assert.True(result.Complete);

        var windows = BruteWindows(corpus, model.RequireTokenizer());
        Assert.Equal(windows.Count, result.CorpusWindows);
        Assert.Contains(windows, w => w.Tokens.Length < Context);                // document ends
        Assert.Contains(windows, w => w.Tokens.Length == 2);                      // a one-token document
        int dMlp = model.Config.DMlp;
        using var index = NeuronIndex.Open(db);
        bool sawTie = false;
        for (int layer = 0; layer < model.Config.NLayers; layer++)
        {
            // [window][pos][neuron], each window alone (batch 1, no padding).
            var acts = windows.Select(w =>
            {
                var (_, cache) = model.RunWithCache(TokenBatch.Single(w.Tokens), [HookNames.MlpPost(layer)], LogitsMode.None);
                return cache[HookNames.MlpPost(layer)];
            }).ToList();
            for (int n = 0; n < dMlp; n++)
            {
                var all = new List<float>();
                var perWindow = new List<(float Max, long Window, int Position)>();
                for (int w = 0; w < windows.Count; w++)
                {
                    float best = float.NegativeInfinity; int at = -1;
                    for (int p = 1; p < windows[w].Tokens.Length; p++)
                    {
                        float v = acts[w][0, p, n];
                        all.Add(v);
                        if (v > best) { best = v; at = p; }
                    }
                    perWindow.Add((best, w, at));
                }
                var expected = perWindow.OrderByDescending(e => e.Max).ThenBy(e => e.Window).Take(TopK).ToList();
                var record = index.GetNeuron(layer, n);
                Assert.Equal(expected.Count, record.TopExamples.Count);
                for (int r = 0; r < expected.Count; r++)
                {
                    var got = record.TopExamples[r];
                    Assert.Equal(expected[r].Max, got.Activation);
                    Assert.Equal(expected[r].Window, got.WindowId);
                    Assert.Equal(expected[r].Position, got.Position);
                    Assert.Equal(windows[(int)expected[r].Window].Tokens, got.TokenIds);
                    Assert.Equal((float)(Half)expected[r].Max, got.Activations[got.Position]);
                    var shading = Enumerable.Range(0, windows[(int)expected[r].Window].Tokens.Length).Select(p => (float)(Half)acts[(int)expected[r].Window][0, p, n]);
                    Assert.Equal(shading, got.Activations);
                }
                sawTie |= perWindow.GroupBy(e => e.Max).Any(g => g.Count() > 1 && g.Key >= expected[^1].Max);

                var s = record.Statistics;
                Assert.Equal(all.Count, s.Count);
                Assert.Equal(all.Min(), s.Min);
                Assert.Equal(all.Max(), s.Max);
                Assert.Equal(all.Count(v => v > 0) / (double)all.Count, s.FractionPositive, 12);
                double mean = all.Average(v => (double)v);
                double std = Math.Sqrt(all.Average(v => ((double)v - mean) * ((double)v - mean)));
                Assert.True(Math.Abs(mean - s.Mean) <= 1e-7 * (1 + Math.Abs(mean)), $"L{layer}N{n} mean {s.Mean} vs {mean}");
                Assert.True(Math.Abs(std - s.Std) <= 1e-6 * (1 + std), $"L{layer}N{n} std {s.Std} vs {std}");
                // Histogram against the documented edges (bin i: [e_i, e_i+1) for v >= 0, (e_i, e_i+1] for v < 0).
                var edges = HistogramBins.Edges;
                var counts = new long[HistogramBins.Count];
                foreach (var v in all)
                {
                    int bin = Enumerable.Range(0, HistogramBins.Count).First(i => v >= 0 ? v >= edges[i] && v < edges[i + 1] : v > edges[i] && v <= edges[i + 1]);
                    counts[bin]++;
                }
                Assert.Equal(counts, record.Histogram.Counts);
            }
        }
        Assert.True(sawTie, "the corpus should produce exactly tied activations (identical documents)");
    }

    [Fact]
    public void ResumedRunAndMergedShardsEqualTheSingleRun()
    {
        using var dir = new TempDir();
        var model = TinyIndexModel.Create(seed: 3);
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus"), documents: 8));
        string single = dir.File("single.db"), resumed = dir.File("resumed.db");
        NeuronIndexBuilder.Build(model, corpus, single, Options);

        var partial = NeuronIndexBuilder.Build(model, corpus, resumed, Options with { StopAfterWindows = 4 });
        Assert.False(partial.Complete);
        Assert.Equal(4, partial.WindowsDone);
        partial = NeuronIndexBuilder.Build(model, corpus, resumed, Options with { StopAfterWindows = 5, CheckpointInterval = TimeSpan.Zero });
        Assert.False(partial.Complete);
        var done = NeuronIndexBuilder.Build(model, corpus, resumed, Options);
        Assert.True(done.Complete);
        Assert.Equal(done.CorpusWindows, done.WindowsDone);
        AssertSameTables(single, resumed);

        var shards = Enumerable.Range(0, 3).Select(i => dir.File($"shard{i}.db")).ToArray();
        for (int i = 0; i < 3; i++) NeuronIndexBuilder.Build(model, corpus, shards[i], Options with { ShardIndex = i, ShardCount = 3 });
        string merged = dir.File("merged.db");
        var m = NeuronIndexBuilder.Merge([shards[2], shards[0], shards[1]], merged);
        Assert.True(m.Complete);
        Assert.Equal("0/3,1/3,2/3", m.Shards);
        AssertSameTables(single, merged);
    }

    /// <summary>Every row of the data tables (statistics incl. exact fixed-point sums, top examples, windows, documents,
    /// direct effects); top examples in rank order without their storage slot, which depends on the order they entered.</summary>
    internal static void AssertSameTables(string expectedDb, string actualDb)
    {
        foreach (var (table, columns, order) in new[]
                 {
                     ("neurons", "*", "layer, neuron"),
                     ("top_examples", "layer, neuron, activation, window_id, position, token_id, activations", "layer, neuron, activation DESC, window_id"),
                     ("windows", "*", "window_id"), ("documents", "*", "document_id"), ("direct_logits", "*", "layer, neuron, rank"),
                 })
            Assert.Equal(Dump(expectedDb, table, columns, order), Dump(actualDb, table, columns, order));
    }

    private static List<string> Dump(string db, string table, string columns, string order)
    {
        using var connection = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {columns} FROM {table} ORDER BY {order}";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.GetValue(i) switch
            {
                byte[] b => Convert.ToHexString(b),
                double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                var v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture),
            })));
        Assert.NotEmpty(rows);
        return rows;
    }
}
