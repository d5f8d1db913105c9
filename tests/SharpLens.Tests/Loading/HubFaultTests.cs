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

    private static HubOptions Fast(FakeHub hub, TempDir cache, int attempts = 4) =>
        HubTests.Options(hub, cache) with { ReadTimeout = TimeSpan.FromMilliseconds(400), MaxAttempts = attempts };

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

    private static string Blobs(TempDir cache) => Path.Combine(cache.Path, "models--gpt2", "blobs");

    [Theory]
    [InlineData(FaultKind.StallBeforeHeaders, 0)]
    [InlineData(FaultKind.StallAfterHeaders, 0)]
    [InlineData(FaultKind.StallAfterBytes, 65536)]
    [InlineData(FaultKind.DropAfterBytes, 100_000)]
    [InlineData(FaultKind.Status, 503)]
    [InlineData(FaultKind.LongContentLength, 0)]
    public void OneFaultOnTheWeightsIsRetriedAndTheDownloadCompletes(FaultKind kind, int bytes)
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubTests.HubWithModel(scratch);
        using var _ = hub;
        hub.Inject(kind, Weights, bytes);
        var clock = Stopwatch.StartNew();
        string folder = Resolve(Fast(hub, cache));
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
        Assert.Empty(Directory.GetFiles(Blobs(cache), "*.incomplete"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        if (kind is FaultKind.StallAfterBytes or FaultKind.DropAfterBytes)
            Assert.Contains(hub.Requests, r => r.Headers.TryGetValue("Range", out var range) && range == $"bytes={bytes}-");
    }

    [Fact]
    public void PersistentStallEndsWithOneLineSayingWhatHappenedAndThatARerunResumes()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubTests.HubWithModel(scratch);
        using var _ = hub;
        hub.Inject(FaultKind.StallAfterBytes, Weights, 65536, count: 3);
        var ex = Fails<InvalidCheckpointException>(Fast(hub, cache, attempts: 3));
        Assert.Contains("failed after 3 attempts", ex.Message);
        Assert.Contains("no data for 0.4 s", ex.Message);
        Assert.Contains("run again to resume", ex.Message);
        // Each attempt resumed where the previous one stalled.
        string incomplete = Path.Combine(Blobs(cache), FakeHub.Sha256Hex(weights) + ".incomplete");
        Assert.Equal(3 * 65536, new FileInfo(incomplete).Length);
        Assert.Contains(hub.Requests, r => r.Headers.TryGetValue("Range", out var range) && range == "bytes=131072-");

        string folder = Resolve(Fast(hub, cache));
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
    }

    [Fact]
    public void PersistentServerErrorsStopAfterTheBoundWithAOneLineError()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, _) = HubTests.HubWithModel(scratch);
        using var __ = hub;
        hub.Inject(FaultKind.Status, Config, 500, count: 10);
        var ex = Fails<ModelNotFoundException>(Fast(hub, cache, attempts: 3));
        Assert.Contains("failed after 3 attempts (HTTP 500", ex.Message);
        Assert.Contains("run again", ex.Message);
        Assert.Equal(3, hub.Requests.Count);
    }

    [Theory]
    [InlineData(FaultKind.ShortContent)]
    [InlineData(FaultKind.Corrupt)]
    public void ConfigFailingItsGitSha1IsNeverCachedAndIsFetchedAgain(FaultKind kind)
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, _) = HubTests.HubWithModel(scratch);
        using var __ = hub;
        hub.Inject(kind, Config, count: 2);
        var ex = Fails<InvalidCheckpointException>(Fast(hub, cache, attempts: 2));
        Assert.Contains("git-sha1", ex.Message);
        Assert.Contains("corrupt", ex.Message);
        Assert.Empty(Directory.GetFiles(Blobs(cache)));
        Assert.False(Directory.Exists(Path.Combine(cache.Path, "models--gpt2", "snapshots")));

        hub.Inject(kind, Config);
        string folder = Resolve(Fast(hub, cache));
        Assert.Equal(4, Gpt2Config.Load(folder).NEmbd);
    }

    [Fact]
    public void WeightsFailingTheirSha256AreNeverCached()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubTests.HubWithModel(scratch);
        using var _ = hub;
        hub.Inject(FaultKind.ShortContent, Weights, count: 2);
        var ex = Fails<InvalidCheckpointException>(Fast(hub, cache, attempts: 2));
        Assert.Contains("sha256", ex.Message);
        Assert.False(File.Exists(Path.Combine(Blobs(cache), FakeHub.Sha256Hex(weights))));
        Assert.Empty(Directory.GetFiles(Blobs(cache), "*.incomplete"));
    }

    [Fact]
    public void EtagsThatAreNoChecksumAreRefusedBeforeAnythingIsCached()
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, _) = HubTests.HubWithModel(scratch);
        using var __ = hub;
        hub.OpaqueEtags = true;
        var ex = Fails<ModelNotFoundException>(Fast(hub, cache));
        Assert.Contains("cannot be verified", ex.Message);
        Assert.False(Directory.Exists(Blobs(cache)) && Directory.EnumerateFiles(Blobs(cache)).Any());
    }

    [Theory]
    [InlineData(Config, true)]
    [InlineData(Weights, true)]
    [InlineData(Config, false)]
    [InlineData(Weights, false)]
    public void DamagedFileInTheCacheIsDetectedAndFetchedAgain(string file, bool truncate)
    {
        using var scratch = new TempDir();
        using var cache = new TempDir();
        var (hub, weights) = HubTests.HubWithModel(scratch);
        using var _ = hub;
        string folder = Resolve(Fast(hub, cache));
        string blob = new FileInfo(Path.Combine(folder, file)).ResolveLinkTarget(true)!.FullName;
        byte[] good = File.ReadAllBytes(blob);
        byte[] bad = truncate ? good[..(good.Length / 2)] : good.ToArray();
        if (!truncate) bad[^1] ^= 0x55;
        File.WriteAllBytes(blob, bad);

        // Offline, the damage is named rather than loaded.
        var offline = Assert.Throws<ModelNotFoundException>(() => ModelResolver.ResolveModelFolder("gpt2", Fast(hub, cache) with { Offline = true }));
        Assert.Contains($"{file}, whose cached copy failed its checksum", offline.Message);

        int before = hub.Requests.Count;
        Assert.Equal(folder, Resolve(Fast(hub, cache)));
        Assert.True(hub.Requests.Count > before);
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(folder, file)));
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, Weights)));
    }
}
