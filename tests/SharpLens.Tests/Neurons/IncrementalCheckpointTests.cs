using Microsoft.Data.Sqlite;
using SharpLens.Neurons;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Storage;
using SharpLens.Tests.Loading;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// A checkpoint writes what changed since the last one, not the database again: counted by triggers on the file, a
/// save after one example entered one neuron's top-k writes one top-example row and only the new window; the rows
/// read back are the heaps' examples in rank order whatever slots they sit in; a store resumed from the file
/// rewrites the top examples once and then goes back to writing only changes.
/// </summary>
public class IncrementalCheckpointTests
{
    private const int Neurons = 6, K = 3, Context = 4;

    [Fact]
    public void ASaveWritesOnlyTheExamplesAndWindowsThatEnteredSinceTheLast()
    {
        using var dir = new TempDir();
        string path = dir.File("n.db");
        var state = new IndexState([2], Neurons, K);
        var top = state.For(2).Top;
        var random = new Random(5);
        long nextWindow = 0;
        void AddWindow(Func<int, bool> admitsNeuron)
        {
            var window = new TokenWindow(nextWindow++, 0, 0, [50256, 7, 8, 9]);
            state.Windows[window.Id] = window;
            state.DocumentNames[0] = "doc";
            for (int n = 0; n < Neurons; n++)
            {
                float activation = random.NextSingle();
                if (admitsNeuron(n) && top.Admits(n, activation, window.Id))
                    top.Add(n, activation, window.Id, 1, 7, Enumerable.Repeat((Half)activation, Context).ToArray());
            }
        }
        for (int w = 0; w < 5; w++) AddWindow(_ => true);     // every heap full, some examples evicted
        using (var store = NeuronStore.Create(path, Provenance()))
        {
            store.Save(state);
            Assert.Equal(Neurons * K, Count(path, "SELECT COUNT(*) FROM top_examples"));
            AssertRowsAreTheHeaps(path, top);
            InstallWriteCounters(path);

            // One window that beats everything neuron 4 holds: one row replaced, one window added, nothing else.
            var window = new TokenWindow(nextWindow++, 0, 0, [50256, 7, 8, 9]);
            state.Windows[window.Id] = window;
            top.Add(4, 10f, window.Id, 2, 8, Enumerable.Repeat((Half)10f, Context).ToArray());
            store.Save(state);
            Assert.Equal(1, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'top_examples'"));
            Assert.Equal(1, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'windows'"));
            AssertRowsAreTheHeaps(path, top);

            // Nothing new: no example or window is written again.
            store.Save(state);
            Assert.Equal(1, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'top_examples'"));
            Assert.Equal(1, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'windows'"));
        }

        using (var resumed = NeuronStore.Open(path))
        {
            var loaded = resumed.Load();
            resumed.Save(loaded);                                // first save after a resume: every example once
            Assert.Equal(1 + Neurons * K, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'top_examples'"));
            Assert.Equal(1, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'windows'"));
            AssertRowsAreTheHeaps(path, loaded.For(2).Top);
            var window = new TokenWindow(100, 0, 0, [50256, 7, 8, 9]);
            loaded.Windows[window.Id] = window;
            loaded.For(2).Top.Add(1, 20f, window.Id, 3, 9, Enumerable.Repeat((Half)20f, Context).ToArray());
            resumed.Save(loaded);
            Assert.Equal(2 + Neurons * K, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'top_examples'"));
            Assert.Equal(2, Count(path, "SELECT COUNT(*) FROM writes WHERE tbl = 'windows'"));
            AssertRowsAreTheHeaps(path, loaded.For(2).Top);
        }
    }

    /// <summary>Each neuron's stored rows, best first, are its heap's examples best first.</summary>
    private static void AssertRowsAreTheHeaps(string path, TopExampleHeaps top)
    {
        using var db = Open(path);
        for (int n = 0; n < Neurons; n++)
        {
            var expected = Enumerable.Range(n * K, top.Filled[n]).Select(s => (top.Activation[s], top.Window[s]))
                .OrderByDescending(e => e.Item1).ThenBy(e => e.Item2).ToList();
            using var command = db.CreateCommand();
            command.CommandText = $"SELECT activation, window_id, slot FROM top_examples WHERE layer = 2 AND neuron = {n} ORDER BY activation DESC, window_id";
            using var reader = command.ExecuteReader();
            var stored = new List<(float, long)>();
            var slots = new HashSet<long>();
            while (reader.Read())
            {
                stored.Add(((float)reader.GetDouble(0), reader.GetInt64(1)));
                Assert.InRange(reader.GetInt64(2), 0, K - 1);
                Assert.True(slots.Add(reader.GetInt64(2)), $"neuron {n}: slot {reader.GetInt64(2)} stored twice");
            }
            Assert.Equal(expected, stored);
        }
    }

    private static void InstallWriteCounters(string path)
    {
        using var db = Open(path);
        using var command = db.CreateCommand();
        command.CommandText = """
            CREATE TABLE writes (tbl TEXT);
            CREATE TRIGGER count_examples AFTER INSERT ON top_examples BEGIN INSERT INTO writes VALUES ('top_examples'); END;
            CREATE TRIGGER count_windows AFTER INSERT ON windows BEGIN INSERT INTO writes VALUES ('windows'); END;
            """;
        command.ExecuteNonQuery();
    }

    private static long Count(string path, string sql)
    {
        using var db = Open(path);
        using var command = db.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static SqliteConnection Open(string path)
    {
        var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        return db;
    }

    private static IndexProvenance Provenance() => new()
    {
        ModelId = "test", ModelHash = "hash", NLayers = 3, DMlp = Neurons, DVocab = 50257, Layers = [2], Context = Context, TopK = K,
        BosTokenId = 50256, Corpus = "corpus", CorpusHash = "c", CorpusWindows = 10, CorpusTokens = 30, Shards = "0/1", ShardWindows = 10,
        SharpLensVersion = "test", Created = "2026-12-06T00:00:00Z",
    };
}

/// <summary>Saving takes at most a tenth of a run: the next checkpoint waits the configured interval or nine times
/// the last save, whichever is longer; zero still means after every batch.</summary>
public class CheckpointIntervalTests
{
    [Theory]
    [InlineData(60, 0, 60)]
    [InlineData(60, 5, 60)]
    [InlineData(60, 20, 180)]
    [InlineData(0, 20, 0)]
    public void NextCheckpointWaitsNineTimesTheLastSave(double intervalSeconds, double lastSaveSeconds, double expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds),
            NeuronIndexer.CheckpointDue(TimeSpan.FromSeconds(intervalSeconds), TimeSpan.FromSeconds(lastSaveSeconds)));
}
