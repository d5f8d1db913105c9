using Microsoft.Data.Sqlite;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Storage;
using SharpLens.Tests.Loading;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// Storage faults during an indexing run: a full disk (SQLite's max_page_count caps the file, as a full file system
/// would) and a file that turns read-only. Each is a one-line error naming the file and the fix; the database keeps
/// its last checkpoint (it passes SQLite's integrity check) and resuming it gives exactly the tables of one clean run.
/// </summary>
public class NeuronIndexFaultTests
{
    private static IndexOptions Options => new() { Context = 16, TopK = 3, BatchWindows = 2, DirectEffectTokens = 4 };

    public static TheoryData<string> Faults => ["full disk", "read-only"];

    [Theory]
    [MemberData(nameof(Faults))]
    public void A_failed_save_is_a_clear_error_and_the_index_resumes_to_the_single_run(string fault)
    {
        using var dir = new TempDir();
        var model = TinyIndexModel.Create();
        // Enough windows that the windows table must outgrow its pages (a handful would fit in the slack of one page).
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus"), documents: 14));
        string single = dir.File("single.db"), faulty = dir.File("faulty.db");
        NeuronIndexBuilder.Build(model, corpus, single, Options);

        // A first checkpoint, then a run whose every save hits the fault.
        Assert.False(NeuronIndexBuilder.Build(model, corpus, faulty, Options with { StopAfterWindows = 3 }).Complete);
        // Packed, with no free pages: the cap below leaves the next save no room to grow.
        using (var connection = new SqliteConnection($"Data Source={faulty};Pooling=False"))
        {
            connection.Open();
            using var vacuum = connection.CreateCommand();
            vacuum.CommandText = "VACUUM";
            vacuum.ExecuteNonQuery();
        }
        long pagesBefore = PageCount(faulty);
        var (_, shardWindows, _) = NeuronIndexer.Count(corpus, model.RequireTokenizer(), 16, 0, 1);
        using (var store = NeuronStore.Open(faulty))
        {
            store.TokenText = id => model.RequireTokenizer().ToStrTokens([id])[0];
            var state = store.Load();
            if (fault == "full disk") store.MaxPageCount = pagesBefore;
            else store.QueryOnly = true;
            var error = Assert.ThrowsAny<SharpLensException>(() =>
                NeuronIndexer.Run(model, corpus, Options with { CheckpointInterval = TimeSpan.Zero }, state, shardWindows, store.Save));
            Assert.Contains(faulty, error.Message);
            Assert.Contains(fault == "full disk" ? "the disk is full" : "it is read-only", error.Message);
            Assert.DoesNotContain('\n', error.Message);
        }
        SqliteConnection.ClearAllPools();
        Assert.Equal("ok", IntegrityCheck(faulty));
        using (var index = NeuronIndex.Open(faulty))
        {
            // The last checkpoint that committed (the disk may fill a few saves in; a read-only file refuses the first).
            Assert.False(index.Provenance.Complete);
            Assert.InRange(index.Provenance.WindowsDone, 3, shardWindows - 1);
            if (fault == "read-only") Assert.Equal(3, index.Provenance.WindowsDone);
        }

        var resumed = NeuronIndexBuilder.Build(model, corpus, faulty, Options);
        Assert.True(resumed.Complete);
        NeuronIndexCorrectnessTests.AssertSameTables(single, faulty);
    }

    private static long PageCount(string db) => (long)Scalar(db, "PRAGMA page_count")!;

    private static string IntegrityCheck(string db) => (string)Scalar(db, "PRAGMA integrity_check")!;

    private static object? Scalar(string db, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
