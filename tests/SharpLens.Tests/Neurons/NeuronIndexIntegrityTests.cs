using System.Text.RegularExpressions;
using SharpLens.Loading;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// What an index file claims must be true: one writer at a time, a merge only of a whole shard set, no file left by a
/// run refused for its size, and provenance that names the model (hub id and revision, or folder) and the SharpLens
/// version that wrote it.
/// </summary>
public class NeuronIndexIntegrityTests
{
    private static IndexOptions Options => new() { Context = 16, TopK = 3, BatchWindows = 2, DirectEffectTokens = 2 };

    [Fact]
    public void A_second_writer_is_refused_while_the_first_holds_the_index_and_resumes_after_it()
    {
        using var dir = new TempDir();
        var model = TinyIndexModel.Create();
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus")));
        string db = dir.File("n.db");
        using (var first = NeuronIndexBuilder.Prepare(model, corpus, db, Options))
        {
            var refused = Assert.Throws<InvalidInputException>(() => NeuronIndexBuilder.Prepare(model, corpus, db, Options));
            Assert.Contains("is being written by another sharplens run", refused.Message);
            Assert.Throws<InvalidInputException>(() => NeuronIndexBuilder.LockOutput(db));
            Assert.True(first.Run(null).Complete);
        }
        Assert.False(File.Exists(NeuronIndexLock.LockFileOf(db)));   // released with the run
        Assert.True(NeuronIndexBuilder.Build(model, corpus, db, Options).Complete);
    }

    [Fact]
    public void Merge_refuses_an_incomplete_shard_set_and_writes_nothing()
    {
        using var dir = new TempDir();
        var model = TinyIndexModel.Create();
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus")));
        var shards = Enumerable.Range(0, 3).Select(i => dir.File($"s{i}.db")).ToArray();
        for (int i = 0; i < 3; i++) NeuronIndexBuilder.Build(model, corpus, shards[i], Options with { ShardIndex = i, ShardCount = 3 });
        string merged = dir.File("merged.db");

        var e = Assert.Throws<InvalidInputException>(() => NeuronIndexBuilder.Merge([shards[0]], merged));
        Assert.Contains("shards 1/3, 2/3 of the 3-way split are missing", e.Message);
        e = Assert.Throws<InvalidInputException>(() => NeuronIndexBuilder.Merge([shards[2], shards[0]], merged));
        Assert.Contains("shard 1/3 of the 3-way split is missing", e.Message);
        Assert.False(File.Exists(merged));
        Assert.False(File.Exists(NeuronIndexLock.LockFileOf(merged)));

        Assert.True(NeuronIndexBuilder.Merge(shards, merged).Complete);
    }

    [Fact]
    public void A_top_k_beyond_memory_is_refused_before_any_file_is_written()
    {
        using var dir = new TempDir();
        var model = TinyIndexModel.Create();
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus")));
        string db = dir.File("n.db");
        var e = Assert.Throws<InvalidInputException>(() => NeuronIndexBuilder.Build(model, corpus, db, Options with { TopK = 2_000_000_000 }));
        Assert.Contains("--top 2000000000 would keep", e.Message);
        Assert.False(File.Exists(db));
        Assert.Empty(Directory.GetFiles(dir.Path));   // no index, no lock file, no probe
        Assert.True(NeuronIndexBuilder.Build(model, corpus, db, Options).Complete);   // the path is still free for a sane run
    }

    [Theory]
    [InlineData(47, true)]
    [InlineData(48, false)]
    public void The_top_k_bound_is_half_the_available_memory(int k, bool fits)
    {
        // GPT-2 small, every layer, context 128: 36,864 neurons x (28 + 24 + 256) bytes a slot; 0.5 GB of a 1 GB budget holds 47.
        void Check() => IndexState.RequireMemoryFor(12, 3072, k, 128, availableBytes: 1L << 30);
        if (fits) Check();
        else Assert.Contains("use --top 47 or less", Assert.Throws<InvalidInputException>(Check).Message);
    }

    [Fact]
    public void An_index_of_a_hub_model_records_its_id_and_revision_and_a_folder_its_path()
    {
        using var dir = new TempDir();
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus"), documents: 1));
        var hub = new HubOptions { CacheDir = RandomGpt2Checkpoint.HubCache, Offline = true };
        var model = ModelLoader.Load("gpt2", new LoadOptions { ResolveHubId = id => ModelResolver.ResolveModelFolder(id, hub) });
        string commit = File.ReadAllText(Path.Combine(hub.CacheDir, "models--gpt2", "refs", "main")).Trim();
        Assert.Equal("gpt2", model.Config.ModelName);
        Assert.Equal(commit, model.Config.Revision);

        var options = Options with { Layers = [0], DirectEffectTokens = 0 };
        var fromHub = NeuronIndexBuilder.Build(model, corpus, dir.File("hub.db"), options);
        Assert.Equal("gpt2", fromHub.ModelId);
        Assert.Equal(commit, fromHub.ModelRevision);
        Assert.Equal(BuildInfo.Version, fromHub.SharpLensVersion);
        using (var index = NeuronIndex.Open(dir.File("hub.db")))
            Assert.Equal((fromHub.ModelId, fromHub.ModelRevision, fromHub.SharpLensVersion), (index.Provenance.ModelId, index.Provenance.ModelRevision, index.Provenance.SharpLensVersion));

        string folder = TinyIndexModel.WriteCheckpoint(dir.File("my model"));
        var local = ModelLoader.Load(folder);
        Assert.Null(local.Config.Revision);
        var fromFolder = NeuronIndexBuilder.Build(local, corpus, dir.File("folder.db"), options);
        Assert.Equal(Path.GetFullPath(folder), fromFolder.ModelId);
        Assert.Equal("", fromFolder.ModelRevision);
    }

    [Fact]
    public void The_recorded_version_is_the_package_version_of_Directory_Build_props()
    {
        string props = File.ReadAllText(Path.Combine(Readme.ReadmeDocument.RepoRoot, "Directory.Build.props"));
        string version = Regex.Match(props, "<Version>([^<]+)</Version>").Groups[1].Value;
        Assert.NotEmpty(version);
        Assert.Matches($"^{Regex.Escape(version)}(\\+[0-9a-f]+)?$", BuildInfo.Version);
    }
}
