using SharpLens.Families.Gpt2;
using System.Net;
using System.Net.Sockets;
using SharpLens.Loading;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Tests.Loading;

public class HubTests
{
    private static readonly Gpt2Config TinyConfig = new() { NLayer = 1, NHead = 2, NEmbd = 4, NPositions = 8, VocabSize = 5 };

    private static byte[] TinySafetensors(TempDir dir, string name, params (string, Tensor)[] tensors)
    {
        string p = dir.File(name);
        SafetensorsWriter.Write(p, tensors);
        return File.ReadAllBytes(p);
    }

    internal static (FakeHub hub, byte[] weights) HubWithModel(TempDir scratch, string repo = "gpt2")
    {
        var hub = new FakeHub();
        var rng = new Random(7);
        var wte = Tensor.Zeros(5, 4);
        for (int i = 0; i < wte.Length; i++) wte.Data[i] = (float)rng.NextDouble();
        var big = Tensor.Zeros(64, 1024); // 256 KiB so truncation/resume is meaningful
        for (int i = 0; i < big.Length; i++) big.Data[i] = i;
        byte[] weights = TinySafetensors(scratch, "w.safetensors", ("transformer.wte.weight", wte), ("big", big));
        hub.AddFile(repo, "config.json", System.Text.Encoding.UTF8.GetBytes(TinyConfig.ToJson()), lfs: false);
        hub.AddFile(repo, "model.safetensors", weights, lfs: true);
        return (hub, weights);
    }

    // Retries wait milliseconds here, so that tests with injected faults stay quick.
    internal static HubOptions Options(FakeHub hub, TempDir cache, string? token = null, bool offline = false) =>
        new() { CacheDir = cache.Path, Endpoint = hub.Endpoint, Token = token, Offline = offline, RetryDelay = TimeSpan.FromMilliseconds(10) };

    [Fact]
    public void DownloadsIntoHfCacheLayoutThenReusesItWithoutRequests()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubWithModel(scratch);
        using var _ = hub;
        var reports = new List<(string file, long done, long total)>();
        var progress = new SyncProgress(reports);

        string folder = ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache), progress);

        string repoDir = Path.Combine(cache.Path, "models--gpt2");
        Assert.Equal(Path.Combine(repoDir, "snapshots", FakeHub.Commit), folder);
        Assert.Equal(FakeHub.Commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")).Trim());
        string sha = FakeHub.Sha256Hex(weights);
        Assert.True(File.Exists(Path.Combine(repoDir, "blobs", sha)));
        Assert.Empty(Directory.GetFiles(Path.Combine(repoDir, "blobs"), "*.incomplete"));
        var link = new FileInfo(Path.Combine(folder, "model.safetensors"));
        Assert.Equal(Path.Combine("..", "..", "blobs", sha), link.LinkTarget);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(repoDir, "blobs", FakeHub.GitSha1(File.ReadAllBytes(Path.Combine(folder, "config.json"))))));

        Assert.Equal(4, Gpt2Config.Load(folder).NEmbd);
        using (var ck = SafetensorsCheckpoint.Open(folder)) Assert.Equal([5, 4], ck.GetShape("transformer.wte.weight"));

        Assert.Contains(reports, r => r.file == "model.safetensors" && r.done == weights.Length && r.total == weights.Length);
        Assert.Contains(hub.Requests, r => r.Path.StartsWith("/cdn/"));

        int before = hub.Requests.Count;
        Assert.Equal(folder, ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache)));
        Assert.Equal(folder, ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache, offline: true)));
        Assert.Equal(before, hub.Requests.Count);
    }

    [Fact]
    public void ARevisionAfterTheIdIsDownloadedRecordedUnderRefsAndFoundAgainOffline()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, _) = HubWithModel(scratch);
        using var _ = hub;
        hub.Revisions.Add("step1000");

        string folder = ModelResolver.ResolveModelFolder("gpt2@step1000", Options(hub, cache));

        string repoDir = Path.Combine(cache.Path, "models--gpt2");
        Assert.Equal(Path.Combine(repoDir, "snapshots", FakeHub.Commit), folder);
        Assert.Equal(FakeHub.Commit, File.ReadAllText(Path.Combine(repoDir, "refs", "step1000")).Trim());
        Assert.False(File.Exists(Path.Combine(repoDir, "refs", "main")));
        Assert.Contains(hub.Requests, r => r.Path == "/gpt2/resolve/step1000/config.json");

        int before = hub.Requests.Count;
        Assert.Equal(folder, ModelResolver.ResolveModelFolder("gpt2@step1000", Options(hub, cache, offline: true)));
        Assert.Equal(before, hub.Requests.Count);
        var e = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2@main", Options(hub, cache, offline: true)));
        Assert.Contains("refs/main", e.Message);
    }

    [Theory]
    [InlineData("gpt2@")]
    [InlineData("@step1000")]
    [InlineData("gpt2@a b")]
    [InlineData("gpt2@x..y")]
    public void AMalformedRevisionIsOneLine(string model)
    {
        var e = Assert.Throws<InvalidInputException>(() => HubClient.SplitRevision(model));
        Assert.Contains("REPO@REVISION", e.Message);
    }

    [Fact]
    public void OrgRepoIdsMapToDoubleDashFolders()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, _) = HubWithModel(scratch, "openai-community/gpt2");
        using var __ = hub;
        string folder = ModelResolver.ResolveModelFolder("openai-community/gpt2", Options(hub, cache));
        Assert.Equal(Path.Combine(cache.Path, "models--openai-community--gpt2", "snapshots", FakeHub.Commit), folder);
    }

    [Fact]
    public void ShardedModelFallsBackToIndexAndShards()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        using var hub = new FakeHub();
        hub.AddFile("distilgpt2", "config.json", System.Text.Encoding.UTF8.GetBytes(TinyConfig.ToJson()), false);
        hub.AddFile("distilgpt2", "model-00001-of-00002.safetensors", TinySafetensors(scratch, "a", ("a", new Tensor([1f, 2f], 2))), true);
        hub.AddFile("distilgpt2", "model-00002-of-00002.safetensors", TinySafetensors(scratch, "b", ("b", new Tensor([3f], 1))), true);
        hub.AddFile("distilgpt2", SafetensorsCheckpoint.IndexFileName,
            """{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"""u8.ToArray(), false);
        string folder = ModelResolver.ResolveModelFolder("distilgpt2", Options(hub, cache));
        using var ck = SafetensorsCheckpoint.Open(folder);
        Assert.Equal([3f], ck.ReadTensor("b").Data);
        // Shards after the first file are fetched at the pinned commit.
        Assert.Contains(hub.Requests, r => r.Path == $"/distilgpt2/resolve/{FakeHub.Commit}/model-00002-of-00002.safetensors");
        int before = hub.Requests.Count;
        Assert.Equal(folder, ModelResolver.ResolveModelFolder("distilgpt2", Options(hub, cache)));
        Assert.Equal(before, hub.Requests.Count);
    }

    [Fact]
    public void UnknownModelIs404NotFound()
    {
        using var cache = new TempDir();
        using var hub = new FakeHub();
        var ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("nobody/nothing", Options(hub, cache)));
        Assert.Contains("model nobody/nothing not found on the hub (HTTP 404 for ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void ModelWithoutSafetensorsGivesClearError()
    {
        using var cache = new TempDir();
        using var hub = new FakeHub();
        hub.AddFile("old/model", "config.json", System.Text.Encoding.UTF8.GetBytes(TinyConfig.ToJson()), false);
        hub.AddFile("old/model", "pytorch_model.bin", [1, 2, 3], true);
        var ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("old/model", Options(hub, cache)));
        Assert.Contains("model.safetensors", ex.Message);
    }

    [Fact]
    public void GatedModelNeedsToken()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, _) = HubWithModel(scratch);
        using var __ = hub;
        hub.RequiredToken = "hf_secret";
        var ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache)));
        Assert.Contains("access denied", ex.Message);
        Assert.Contains("HF_TOKEN", ex.Message);
        ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache, token: "wrong")));
        Assert.Contains("has no access", ex.Message);

        string folder = ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache, token: "hf_secret"));
        Assert.True(HubClient.ModelFolderComplete(folder, out _));
        Assert.Contains(hub.Requests, r => r.Headers.TryGetValue("Authorization", out var a) && a == "Bearer hf_secret");
    }

    [Fact]
    public void TruncatedDownloadKeepsIncompleteAndResumesWithRange()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubWithModel(scratch);
        using var _ = hub;
        hub.TruncateCdn = 1;
        var ex = Assert.Throws<InvalidCheckpointException>(() => ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache) with { MaxAttempts = 1 }));
        Assert.Contains("cut off", ex.Message);
        Assert.Contains("run again to resume", ex.Message);
        string sha = FakeHub.Sha256Hex(weights);
        string incomplete = Path.Combine(cache.Path, "models--gpt2", "blobs", sha + ".incomplete");
        long partial = new FileInfo(incomplete).Length;
        Assert.True(partial > 0 && partial < weights.Length);
        Assert.False(File.Exists(Path.Combine(cache.Path, "models--gpt2", "blobs", sha)));

        string folder = ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache));
        Assert.Contains(hub.Requests, r => r.Headers.TryGetValue("Range", out var range) && range == $"bytes={partial}-");
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public void UnresumablePartialFileIsRestarted()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubWithModel(scratch);
        using var _ = hub;
        string blobs = Path.Combine(cache.Path, "models--gpt2", "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, FakeHub.Sha256Hex(weights) + ".incomplete"), new byte[weights.Length + 10]);
        string folder = ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache));
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
    }

    [Fact]
    public void ChecksumMismatchIsRejected()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubWithModel(scratch);
        using var _ = hub;
        hub.CorruptCdn = true;
        var ex = Assert.Throws<InvalidCheckpointException>(() => ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache)));
        Assert.Contains("sha256", ex.Message);
        string blobs = Path.Combine(cache.Path, "models--gpt2", "blobs");
        string sha = FakeHub.Sha256Hex(weights);
        Assert.False(File.Exists(Path.Combine(blobs, sha)));
        Assert.False(File.Exists(Path.Combine(blobs, sha + ".incomplete")));
        Assert.False(File.Exists(Path.Combine(cache.Path, "models--gpt2", "snapshots", FakeHub.Commit, "model.safetensors")));

        hub.CorruptCdn = false;
        string folder = ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache));
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
    }

    [Fact]
    public void OfflineWithEmptyCacheNamesMissingFileAndHowToGetIt()
    {
        using var cache = new TempDir();
        using var hub = new FakeHub();
        var ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2", Options(hub, cache, offline: true)));
        Assert.Contains("HF_HUB_OFFLINE", ex.Message);
        Assert.Contains("huggingface-cli download gpt2", ex.Message);
        Assert.Contains("refs/main", ex.Message);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void UnreachableHubSaysHowToGetTheModel()
    {
        using var cache = new TempDir();
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var opts = new HubOptions { CacheDir = cache.Path, Endpoint = $"http://127.0.0.1:{port}" };
        var ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2", opts));
        Assert.Contains("cannot reach", ex.Message);
        Assert.Contains("huggingface-cli download gpt2", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void ReusesPythonStyleCacheWithPlainFiles()
    {
        using var cache = new TempDir();
        string repo = Path.Combine(cache.Path, "models--gpt2");
        string snap = Path.Combine(repo, "snapshots", FakeHub.Commit);
        Directory.CreateDirectory(snap);
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), FakeHub.Commit);
        File.WriteAllText(Path.Combine(snap, "config.json"), TinyConfig.ToJson());
        SafetensorsWriter.Write(Path.Combine(snap, "model.safetensors"), [("x", new Tensor([1f], 1))]);
        var opts = new HubOptions { CacheDir = cache.Path, Endpoint = "http://127.0.0.1:1", Offline = true };
        Assert.Equal(snap, ModelResolver.ResolveModelFolder("gpt2", opts));
        // A revision given as a commit hash needs no ref.
        Assert.Equal(snap, ModelResolver.ResolveModelFolder("gpt2", opts with { Revision = FakeHub.Commit }));
    }

    [Fact]
    public void LocalFolders()
    {
        using var dir = new TempDir();
        var opts = new HubOptions { CacheDir = dir.Path, Offline = true };
        var ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder(dir.Path, opts));
        Assert.Contains("config.json", ex.Message);
        File.WriteAllText(dir.File("config.json"), TinyConfig.ToJson());
        ex = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder(dir.Path, opts));
        Assert.Contains("model.safetensors", ex.Message);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("x", new Tensor([1f], 1))]);
        Assert.Equal(dir.Path, ModelResolver.ResolveModelFolder(dir.Path, opts));
        Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("./no/such/folder", opts));
        Assert.Throws<InvalidInputException>(() => ModelResolver.ResolveModelFolder(dir.File("config.json"), opts));
    }

    [Fact]
    public void OptionsFromEnvironment()
    {
        using var home = new TempDir();
        HubOptions From(params (string k, string v)[] env)
        {
            var d = env.ToDictionary(e => e.k, e => e.v);
            d.TryAdd("HOME", home.Path);
            return HubOptions.FromEnvironment(k => d.GetValueOrDefault(k));
        }
        Assert.Equal(Path.Combine(home.Path, ".cache", "huggingface", "hub"), From().CacheDir);
        Assert.Equal("https://huggingface.co", From().Endpoint);
        Assert.False(From().Offline);
        Assert.Null(From().Token);
        Assert.Equal(Path.Combine(home.Path, "hf", "hub"), From(("HF_HOME", Path.Combine(home.Path, "hf"))).CacheDir);
        Assert.Equal(Path.Combine(home.Path, "c"), From(("HF_HOME", "/elsewhere"), ("HF_HUB_CACHE", Path.Combine(home.Path, "c"))).CacheDir);
        Assert.Equal(Path.Combine(home.Path, "x", "hub"), From(("HF_HOME", "~/x")).CacheDir);
        Assert.True(From(("HF_HUB_OFFLINE", "1")).Offline);
        Assert.Equal(TimeSpan.FromSeconds(30), From().ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2.5), From(("SHARPLENS_HUB_TIMEOUT", "2.5")).ReadTimeout);
        Assert.Contains("SHARPLENS_HUB_TIMEOUT", Assert.Throws<InvalidInputException>(() => From(("SHARPLENS_HUB_TIMEOUT", "soon"))).Message);
        Assert.Throws<InvalidInputException>(() => From(("SHARPLENS_HUB_TIMEOUT", "0")));
        Assert.Equal("http://mirror:8080", From(("HF_ENDPOINT", "http://mirror:8080/")).Endpoint);
        Assert.Equal("hf_abc", From(("HF_TOKEN", "hf_abc")).Token);
        Directory.CreateDirectory(Path.Combine(home.Path, "hf"));
        File.WriteAllText(Path.Combine(home.Path, "hf", "token"), "hf_fromfile\n");
        Assert.Equal("hf_fromfile", From(("HF_HOME", Path.Combine(home.Path, "hf"))).Token);
    }

    [Fact]
    public void EtagNormalization()
    {
        Assert.Equal("abc", HubClient.NormalizeEtag("W/\"abc\""));
        Assert.Equal("abc", HubClient.NormalizeEtag("\"abc\""));
        Assert.Null(HubClient.NormalizeEtag("\"\""));
        Assert.True(HubClient.IsValidRepoId("openai-community/gpt2"));
        Assert.False(HubClient.IsValidRepoId("../etc"));
        Assert.False(HubClient.IsValidRepoId("a/b/c"));
    }

    /// <summary>IProgress that records synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(List<(string, long, long)> into) : IProgress<(string file, long done, long total)>
    {
        public void Report((string file, long done, long total) value) { lock (into) into.Add(value); }
    }
}
