using SharpLens.Families.Gpt2;
using System.Diagnostics;
using SharpLens.Loading;
using static SharpLens.Tests.Loading.FakeHub;

namespace SharpLens.Tests.Loading;

/// <summary>
/// The hub client against a loopback hub that stalls, drops, fails and lies: it never hangs (a tiny read-inactivity
/// timeout here), retries a bounded number of times resuming the partial file, and never caches an unverified file.
/// </summary>
public class HubFaultTests
{
    private const string Weights = "model.safetensors";
    private const string Config = "config.json";

    // Every test finishes in a few seconds even when the client would otherwise wait forever.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>A fake hub serving a small model, and an empty cache; a tiny read timeout and retry delay.</summary>
    private sealed class Scene : IDisposable
    {
        private readonly TempDir _scratch = new();
        public TempDir Cache { get; } = new();
        public FakeHub Hub { get; }
        public byte[] Weights { get; }
        public Scene() => (Hub, Weights) = HubTests.HubWithModel(_scratch);
        public HubOptions Fast(int attempts = 4) =>
            HubTests.Options(Hub, Cache) with { ReadTimeout = TimeSpan.FromMilliseconds(400), MaxAttempts = attempts };
        public string Blobs => Path.Combine(Cache.Path, "models--gpt2", "blobs");
        public void Dispose() { Hub.Dispose(); Cache.Dispose(); _scratch.Dispose(); }
    }

    private static string Resolve(HubOptions options)
    {
        var task = Task.Run(() => ModelResolver.ResolveModelFolder("gpt2", options));
        if (!task.Wait(Bound)) throw new TimeoutException("the hub client hung");
        return task.Result;
    }

    private static T Fails<T>(HubOptions options) where T : Exception
    {
        var ex = Assert.Throws<AggregateException>(() => Resolve(options));
        var inner = Assert.IsType<T>(ex.InnerException);
        Assert.DoesNotContain('\n', inner.Message);
        return inner;
    }

    [Theory]
    [InlineData(FaultKind.StallBeforeHeaders, 0)]
    [InlineData(FaultKind.StallAfterHeaders, 0)]
    [InlineData(FaultKind.StallAfterBytes, 65536)]
    [InlineData(FaultKind.DropAfterBytes, 100_000)]
    [InlineData(FaultKind.Status, 503)]
    [InlineData(FaultKind.LongContentLength, 0)]
    public void OneFaultOnTheWeightsIsRetriedAndTheDownloadCompletes(FaultKind kind, int bytes)
    {
        using var scene = new Scene();
        scene.Hub.Inject(kind, Weights, bytes);
        var clock = Stopwatch.StartNew();
        string folder = Resolve(scene.Fast());
        Assert.Equal(scene.Weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
        Assert.Empty(Directory.GetFiles(scene.Blobs, "*.incomplete"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        if (kind is FaultKind.StallAfterBytes or FaultKind.DropAfterBytes)
            Assert.Contains(scene.Hub.Requests, r => r.Headers.TryGetValue("Range", out var range) && range == $"bytes={bytes}-");
    }

    [Fact]
    public void APartialFileThatIsAlreadyWholeIsVerifiedAndKeptWhenTheServerHasNothingLeftToResume()
    {
        // An earlier run received every byte before the connection broke (a Content-Length the server did not honour):
        // the resume gets 416, the kept bytes pass the checksum, and they become the blob without a second download.
        using var scene = new Scene();
        Directory.CreateDirectory(scene.Blobs);
        File.WriteAllBytes(Path.Combine(scene.Blobs, FakeHub.Sha256Hex(scene.Weights) + ".incomplete"), scene.Weights);
        string folder = Resolve(scene.Fast(attempts: 1));
        Assert.Equal(scene.Weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
        Assert.Empty(Directory.GetFiles(scene.Blobs, "*.incomplete"));
        var cdn = scene.Hub.Requests.Where(r => r.Path.StartsWith("/cdn/")).ToList();
        Assert.Single(cdn);
        Assert.Equal($"bytes={scene.Weights.Length}-", cdn[0].Headers["Range"]);
    }

    [Fact]
    public void AWholeLengthPartialFileThatFailsTheChecksumIsDeletedAndTheNextAttemptStartsAfresh()
    {
        // However the attempts in between fail, the bad partial file is gone from disk, so no attempt resumes it again.
        using var scene = new Scene();
        Directory.CreateDirectory(scene.Blobs);
        var damaged = (byte[])scene.Weights.Clone();
        damaged[^1] ^= 0xFF;
        string incomplete = Path.Combine(scene.Blobs, FakeHub.Sha256Hex(scene.Weights) + ".incomplete");
        File.WriteAllBytes(incomplete, damaged);

        var ex = Fails<InvalidCheckpointException>(scene.Fast(attempts: 1));
        Assert.Contains("cannot resume", ex.Message);
        Assert.Contains("run again to download it afresh", ex.Message);
        Assert.False(File.Exists(incomplete));

        string folder = Resolve(scene.Fast(attempts: 1));
        Assert.Equal(scene.Weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
    }

    [Fact]
    public void PersistentStallEndsWithOneLineSayingWhatHappenedAndThatARerunResumes()
    {
        using var scene = new Scene();
        scene.Hub.Inject(FaultKind.StallAfterBytes, Weights, 65536, count: 3);
        var ex = Fails<InvalidCheckpointException>(scene.Fast(attempts: 3));
        Assert.Contains("failed after 3 attempts", ex.Message);
        Assert.Contains("no data for 0.4 s", ex.Message);
        Assert.Contains("run again to resume", ex.Message);
        // Each attempt resumed where the previous one stalled.
        string incomplete = Path.Combine(scene.Blobs, FakeHub.Sha256Hex(scene.Weights) + ".incomplete");
        Assert.Equal(3 * 65536, new FileInfo(incomplete).Length);
        Assert.Contains(scene.Hub.Requests, r => r.Headers.TryGetValue("Range", out var range) && range == "bytes=131072-");

        string folder = Resolve(scene.Fast());
        Assert.Equal(scene.Weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
    }

    [Fact]
    public void EachRetrySaysWhatWentWrongAndWhichAttemptFollows()
    {
        using var scene = new Scene();
        scene.Hub.Inject(FaultKind.StallAfterBytes, Weights, 65536, count: 2);
        var retries = new List<HubRetry>();
        string folder = Resolve(scene.Fast() with { Retrying = r => { lock (retries) retries.Add(r); } });
        Assert.Equal(scene.Weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
        // Only the weights file has injected stalls; on a heavily loaded host another file may also go quiet for the
        // tiny 0.4 s read timeout and be retried, which is correct behaviour and not what this test is about.
        var weightRetries = retries.Where(r => r.File == Weights).ToList();
        Assert.Equal([2, 3], weightRetries.Select(r => r.NextAttempt));
        Assert.All(weightRetries, r =>
        {
            Assert.Equal(4, r.MaxAttempts);
            Assert.StartsWith("no data for 0.4 s", r.Reason);
        });
        Assert.StartsWith("model.safetensors: no data for 0.4 s", weightRetries[0].ToString());
        Assert.Contains(", retrying (2 of 4) in ", weightRetries[0].ToString());
    }

    [Fact]
    public void TheCliShowsAStalledDownloadRetrying()
    {
        using var scene = new Scene();
        scene.Hub.Inject(FaultKind.StallAfterBytes, Weights, 65536);
        var r = SharpLens.Tests.Support.CliRunner.Run(new Dictionary<string, string?>
        {
            ["HF_ENDPOINT"] = scene.Hub.Endpoint, ["HF_HUB_CACHE"] = scene.Cache.Path, ["HF_HUB_OFFLINE"] = null, ["SHARPLENS_HUB_TIMEOUT"] = "0.5",
        }, "predict", "--model", "gpt2", "--tokens", "1,2");
        Assert.Contains("model.safetensors: no data for 0.5 s (SHARPLENS_HUB_TIMEOUT) after 65536 of", r.Stderr);
        Assert.Contains(", retrying (2 of 5) in 1 s", r.Stderr);
        Assert.True(File.Exists(Path.Combine(scene.Blobs, FakeHub.Sha256Hex(scene.Weights))), r.Stderr);   // and the retry completed it
    }

    [Fact]
    public void PersistentServerErrorsStopAfterTheBoundWithAOneLineError()
    {
        using var scene = new Scene();
        scene.Hub.Inject(FaultKind.Status, Config, 500, count: 10);
        var ex = Fails<ModelNotFoundException>(scene.Fast(attempts: 3));
        Assert.Contains("failed after 3 attempts (HTTP 500", ex.Message);
        Assert.Contains("run again", ex.Message);
        Assert.Equal(3, scene.Hub.Requests.Count);
    }

    [Theory]
    [InlineData(FaultKind.ShortContent)]
    [InlineData(FaultKind.Corrupt)]
    public void ConfigFailingItsGitSha1IsNeverCachedAndIsFetchedAgain(FaultKind kind)
    {
        using var scene = new Scene();
        scene.Hub.Inject(kind, Config, count: 2);
        var ex = Fails<InvalidCheckpointException>(scene.Fast(attempts: 2));
        Assert.Contains("git-sha1", ex.Message);
        Assert.Contains("corrupt", ex.Message);
        Assert.Empty(Directory.GetFiles(scene.Blobs));
        Assert.False(Directory.Exists(Path.Combine(scene.Cache.Path, "models--gpt2", "snapshots")));

        scene.Hub.Inject(kind, Config);
        string folder = Resolve(scene.Fast());
        Assert.Equal(4, Gpt2Config.Load(folder).NEmbd);
    }

    [Fact]
    public void WeightsFailingTheirSha256AreNeverCached()
    {
        using var scene = new Scene();
        scene.Hub.Inject(FaultKind.ShortContent, Weights, count: 2);
        var ex = Fails<InvalidCheckpointException>(scene.Fast(attempts: 2));
        Assert.Contains("sha256", ex.Message);
        Assert.False(File.Exists(Path.Combine(scene.Blobs, FakeHub.Sha256Hex(scene.Weights))));
        Assert.Empty(Directory.GetFiles(scene.Blobs, "*.incomplete"));
    }

    [Fact]
    public void EtagsThatAreNoChecksumAreRefusedBeforeAnythingIsCached()
    {
        using var scene = new Scene();
        scene.Hub.OpaqueEtags = true;
        var ex = Fails<ModelNotFoundException>(scene.Fast());
        Assert.Contains("cannot be verified", ex.Message);
        Assert.False(Directory.Exists(scene.Blobs) && Directory.EnumerateFiles(scene.Blobs).Any());
    }

    [Theory]
    [InlineData(Config, true)]
    [InlineData(Weights, true)]
    [InlineData(Config, false)]
    [InlineData(Weights, false)]
    public void DamagedFileInTheCacheIsDetectedAndFetchedAgain(string file, bool truncate)
    {
        using var scene = new Scene();
        string folder = Resolve(scene.Fast());
        string blob = new FileInfo(Path.Combine(folder, file)).ResolveLinkTarget(true)!.FullName;
        byte[] good = File.ReadAllBytes(blob);
        byte[] bad = truncate ? good[..(good.Length / 2)] : good.ToArray();
        if (!truncate) bad[^1] ^= 0x55;
        File.WriteAllBytes(blob, bad);

        // Offline, the damage is named rather than loaded.
        var offline = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2", scene.Fast() with { Offline = true }));
        Assert.Contains($"{file}, whose cached copy failed its checksum", offline.Message);

        int before = scene.Hub.Requests.Count;
        Assert.Equal(folder, Resolve(scene.Fast()));
        Assert.True(scene.Hub.Requests.Count > before);
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(folder, file)));
        Assert.Equal(scene.Weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
    }
}
