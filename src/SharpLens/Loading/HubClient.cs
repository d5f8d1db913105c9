using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace SharpLens.Loading;

/// <summary>
/// Where and how to reach the Hugging Face hub and its local cache. Build it with
/// <see cref="FromEnvironment"/> (HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE) or set the
/// properties directly (tests do, so they never touch the process environment).
/// </summary>
public sealed record HubOptions
{
    /// <summary>The hub cache folder (the one holding <c>models--org--name</c>).</summary>
    public required string CacheDir { get; init; }
    /// <summary>Hub base URL, default https://huggingface.co.</summary>
    public string Endpoint { get; init; } = "https://huggingface.co";
    /// <summary>Bearer token sent to the endpoint host, or null.</summary>
    public string? Token { get; init; }
    /// <summary>When true no network request is made; only the cache is used.</summary>
    public bool Offline { get; init; }
    /// <summary>Branch, tag or commit hash to resolve.</summary>
    public string Revision { get; init; } = "main";
    /// <summary>Time allowed to connect to the server.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Options from environment variables, read through <paramref name="getEnv"/> (default: the process
    /// environment). Cache dir: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else
    /// ~/.cache/huggingface/hub. Token: HF_TOKEN, else the file HF_HOME/token written by <c>huggingface-cli login</c>.
    /// </summary>
    public static HubOptions FromEnvironment(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        string? Get(string k) { var v = getEnv(k); return string.IsNullOrWhiteSpace(v) ? null : v.Trim(); }
        string home = Get("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string Expand(string p) => p == "~" ? home : p.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, p[2..]) : p;

        string hfHome = Get("HF_HOME") is string h ? Expand(h)
            : Path.Combine(Get("XDG_CACHE_HOME") is string x ? Expand(x) : Path.Combine(home, ".cache"), "huggingface");
        string cache = Get("HF_HUB_CACHE") is string c ? Expand(c) : Path.Combine(hfHome, "hub");
        string? token = Get("HF_TOKEN");
        if (token == null)
        {
            string tokenFile = Get("HF_TOKEN_PATH") is string tp ? Expand(tp) : Path.Combine(hfHome, "token");
            try { if (File.Exists(tokenFile)) token = File.ReadAllText(tokenFile).Trim() is { Length: > 0 } t ? t : null; }
            catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        string offline = (Get("HF_HUB_OFFLINE") ?? "").ToLowerInvariant();
        return new HubOptions
        {
            CacheDir = Path.GetFullPath(cache),
            Endpoint = (Get("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/'),
            Token = token,
            Offline = offline is "1" or "true" or "yes" or "on",
        };
    }
}

/// <summary>
/// Downloads model files from the Hugging Face hub into the huggingface_hub cache layout
/// (<c>models--org--name/{blobs,refs,snapshots}</c>), so models downloaded by Python are reused and vice versa.
/// Blobs go through <c>blobs/ETAG.incomplete</c> (resumed with a Range request), are checked against the
/// sha256 ETag of LFS files, then renamed; snapshot files are symlinks to blobs (copies where symlinks fail).
/// </summary>
public sealed partial class HubClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _endpoint;

    public HubOptions Options { get; }

    /// <summary>Creates a client; <paramref name="handler"/> (optional) must not follow redirects itself.</summary>
    public HubClient(HubOptions options, HttpMessageHandler? handler = null)
    {
        Options = options;
        if (!Uri.TryCreate(options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var ep) || (ep.Scheme != "http" && ep.Scheme != "https"))
            throw new InvalidInputException($"HF_ENDPOINT '{options.Endpoint}' is not an http(s) URL: set it to e.g. https://huggingface.co");
        _endpoint = ep;
        handler ??= new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = options.ConnectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("sharplens/0.1");
        _ownsHttp = true;
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")]
    private static partial Regex RepoIdRegex();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitRegex();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Regex();

    /// <summary>Whether <paramref name="id"/> looks like a hub repo id ("gpt2", "openai-community/gpt2").</summary>
    public static bool IsValidRepoId(string id) => id.Length <= 96 && RepoIdRegex().IsMatch(id) && !id.Contains("..") && !id.Contains("--");

    /// <summary>Cache folder of a repo: CACHE/models--org--name.</summary>
    public string RepoCacheFolder(string repoId) => Path.Combine(Options.CacheDir, "models--" + repoId.Replace("/", "--"));

    /// <summary>The commit a revision points to in the cache (refs/REV), or the revision itself when it is a commit hash.</summary>
    public string? CachedCommit(string repoId, string? revision = null)
    {
        revision ??= Options.Revision;
        if (CommitRegex().IsMatch(revision)) return revision;
        string refFile = Path.Combine(RepoCacheFolder(repoId), "refs", revision);
        try
        {
            if (!File.Exists(refFile)) return null;
            string c = File.ReadAllText(refFile).Trim();
            return CommitRegex().IsMatch(c) ? c : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Whether a (snapshot) file exists and, when it is a symlink, its target exists.</summary>
    internal static bool FileUsable(string path)
    {
        try
        {
            var fi = new FileInfo(path);
            if (!fi.Exists) return false;
            if (fi.LinkTarget != null) return fi.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// The folder of a complete snapshot in the cache for <paramref name="repoId"/> (config.json plus
    /// model.safetensors or the index and all its shards), or null. Makes no request.
    /// </summary>
    public string? TryGetCachedModel(string repoId, out string missing)
    {
        missing = "config.json";
        string? commit = CachedCommit(repoId);
        if (commit == null) { missing = $"refs/{Options.Revision}"; return null; }
        string snap = Path.Combine(RepoCacheFolder(repoId), "snapshots", commit);
        return ModelFolderComplete(snap, out missing) ? snap : null;
    }

    /// <summary>Whether a folder holds config.json and a complete safetensors checkpoint; names the first missing file.</summary>
    public static bool ModelFolderComplete(string folder, out string missing)
    {
        missing = "config.json";
        if (!FileUsable(Path.Combine(folder, "config.json"))) return false;
        if (FileUsable(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName))) { missing = ""; return true; }
        string index = Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);
        missing = SafetensorsCheckpoint.SingleFileName;
        if (!FileUsable(index)) return false;
        IReadOnlyList<string> shards;
        try { shards = SafetensorsCheckpoint.ReadShardNames(index); }
        catch (SharpLensException) { missing = SafetensorsCheckpoint.IndexFileName; return false; }
        foreach (var s in shards)
            if (!FileUsable(Path.Combine(folder, s))) { missing = s; return false; }
        missing = "";
        return true;
    }

    /// <summary>
    /// Returns a snapshot folder holding config.json and the safetensors weights of <paramref name="repoId"/>:
    /// from the cache when complete (no request), else downloading the missing files (all from one commit).
    /// </summary>
    public async Task<string> ResolveModelAsync(string repoId, IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default)
    {
        if (!IsValidRepoId(repoId))
            throw new InvalidInputException($"'{repoId}' is neither an existing folder nor a valid hub model id: pass a model folder or an id like gpt2 or openai-community/gpt2");
        string? cached = TryGetCachedModel(repoId, out string missing);
        if (cached != null) return cached;
        if (Options.Offline)
            throw new ModelNotFoundException(
                $"model {repoId} is not complete in the Hugging Face cache {Options.CacheDir} (missing {missing}) and HF_HUB_OFFLINE=1 forbids downloading: unset HF_HUB_OFFLINE, or run `huggingface-cli download {repoId}` on a connected machine and copy its cache here, or pass a local model folder");

        // The first download pins the commit; the remaining files are fetched at that commit.
        var first = await DownloadFileAsync(repoId, "config.json", Options.Revision, progress, ct).ConfigureAwait(false);
        string commit = first.Commit;
        string snap = Path.GetDirectoryName(first.Path)!;
        var weights = await TryDownloadFileAsync(repoId, SafetensorsCheckpoint.SingleFileName, commit, progress, ct).ConfigureAwait(false);
        if (weights == null)
        {
            var index = await TryDownloadFileAsync(repoId, SafetensorsCheckpoint.IndexFileName, commit, progress, ct).ConfigureAwait(false)
                ?? throw new ModelNotFoundException(
                    $"model {repoId} has no {SafetensorsCheckpoint.SingleFileName} or {SafetensorsCheckpoint.IndexFileName} on the hub at {Options.Endpoint}: SharpLens reads safetensors checkpoints; convert the model with transformers' save_pretrained(safe_serialization=True) and pass the folder");
            foreach (var shard in SafetensorsCheckpoint.ReadShardNames(index.Path))
                await DownloadFileAsync(repoId, shard, commit, progress, ct).ConfigureAwait(false);
        }
        return snap;
    }

    /// <summary>Synchronous <see cref="ResolveModelAsync"/>.</summary>
    public string ResolveModel(string repoId, IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default) =>
        ResolveModelAsync(repoId, progress, ct).GetAwaiter().GetResult();

    /// <summary>A downloaded (or already cached) file: its snapshot path, commit and blob ETag.</summary>
    public sealed record DownloadedFile(string Path, string Commit, string Etag);

    private async Task<DownloadedFile?> TryDownloadFileAsync(string repoId, string filename, string revision,
        IProgress<(string file, long done, long total)>? progress, CancellationToken ct)
    {
        try { return await DownloadFileAsync(repoId, filename, revision, progress, ct).ConfigureAwait(false); }
        catch (EntryNotFoundException) { return null; }
    }

    /// <summary>The file was not found (404) but the repo was.</summary>
    private sealed class EntryNotFoundException(string message) : SharpLensException(message);

    /// <summary>
    /// Downloads <paramref name="filename"/> of <paramref name="repoId"/> at <paramref name="revision"/> into the cache
    /// (skipping the body when the blob is already there) and returns its snapshot path.
    /// </summary>
    public async Task<DownloadedFile> DownloadFileAsync(string repoId, string filename, string revision,
        IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default)
    {
        if (!IsValidRepoId(repoId))
            throw new InvalidInputException($"'{repoId}' is not a valid hub model id: use an id like gpt2 or openai-community/gpt2");
        if (!SafetensorsCheckpoint.IsSafeRelativeFileName(filename))
            throw new InvalidCheckpointException($"refusing to download '{filename}' of model {repoId}: the name leaves the model folder");
        if (Options.Offline)
            throw new ModelNotFoundException($"cannot download {filename} of model {repoId}: HF_HUB_OFFLINE=1 forbids network access; unset it or pass a local model folder");

        string repoDir = RepoCacheFolder(repoId);
        string blobs = Path.Combine(repoDir, "blobs");
        var url = new Uri(_endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', filename.Split('/').Select(Uri.EscapeDataString))}");

        for (int attempt = 0; ; attempt++)
        {
            string? commit = null, etag = null, linkedEtag = null;
            long? linkedSize = null;
            string? incomplete = null;
            long resumeFrom = 0;
            Uri current = url;
            HttpResponseMessage? resp = null;
            try
            {
                for (int hop = 0; ; hop++)
                {
                    if (hop > 10) throw new ModelNotFoundException($"too many redirects downloading {url}: check HF_ENDPOINT");
                    var req = new HttpRequestMessage(HttpMethod.Get, current);
                    if (Options.Token != null && SameHost(current, _endpoint))
                        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.Token);
                    string? knownEtag = linkedEtag ?? etag;
                    if (knownEtag != null && incomplete == null)
                    {
                        incomplete = Path.Combine(blobs, knownEtag + ".incomplete");
                        resumeFrom = attempt == 0 && File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
                    }
                    if (resumeFrom > 0) req.Headers.Range = new RangeHeaderValue(resumeFrom, null);
                    resp?.Dispose();
                    try
                    {
                        resp = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                    {
                        throw Unreachable(repoId, current, e);
                    }
                    commit ??= Header(resp, "X-Repo-Commit");
                    linkedEtag ??= NormalizeEtag(Header(resp, "X-Linked-Etag"));
                    etag ??= NormalizeEtag(resp.Headers.ETag?.ToString() ?? Header(resp, "ETag"));
                    if (linkedSize == null && long.TryParse(Header(resp, "X-Linked-Size"), out long ls)) linkedSize = ls;

                    // Cached already? Skip the body.
                    string? e0 = linkedEtag ?? etag;
                    if (commit != null && e0 != null && IsSafeEtag(e0) && File.Exists(Path.Combine(blobs, e0)))
                    {
                        var done = PlaceSnapshotFile(repoDir, commit, filename, e0, revision);
                        progress?.Report((filename, new FileInfo(Path.Combine(blobs, e0)).Length, new FileInfo(Path.Combine(blobs, e0)).Length));
                        return done;
                    }

                    int status = (int)resp.StatusCode;
                    if (status is >= 300 and < 400 && resp.Headers.Location != null)
                    {
                        current = resp.Headers.Location.IsAbsoluteUri ? resp.Headers.Location : new Uri(current, resp.Headers.Location);
                        continue;
                    }
                    if (status == 416 && resumeFrom > 0)
                    {
                        // The partial file is not a prefix we can resume: start over.
                        File.Delete(incomplete!);
                        throw new RetryException();
                    }
                    if (!resp.IsSuccessStatusCode) throw HttpError(repoId, filename, url, resp);
                    break;
                }

                if (commit == null)
                {
                    if (CommitRegex().IsMatch(revision)) commit = revision;
                    else throw new ModelNotFoundException($"the server at {Options.Endpoint} sent no X-Repo-Commit header for {url}: check HF_ENDPOINT points to a Hugging Face hub");
                }
                string? finalEtag = linkedEtag ?? etag;
                if (finalEtag == null || !IsSafeEtag(finalEtag))
                    throw new ModelNotFoundException($"the server at {Options.Endpoint} sent no usable ETag for {url}: check HF_ENDPOINT points to a Hugging Face hub");
                if (incomplete == null || !incomplete.EndsWith(finalEtag + ".incomplete", StringComparison.Ordinal))
                {
                    incomplete = Path.Combine(blobs, finalEtag + ".incomplete");
                    resumeFrom = 0;
                }
                Directory.CreateDirectory(blobs);
                if (!CommitRegex().IsMatch(revision)) WriteRef(repoDir, revision, commit);
                await ReceiveBodyAsync(resp, url, filename, incomplete, resumeFrom, linkedSize, progress, ct).ConfigureAwait(false);

                if (Sha256Regex().IsMatch(finalEtag))
                {
                    string actual = await Sha256OfFileAsync(incomplete, ct).ConfigureAwait(false);
                    if (actual != finalEtag)
                    {
                        File.Delete(incomplete);
                        throw new InvalidCheckpointException(
                            $"download of {filename} of model {repoId} is corrupt (sha256 {actual}, expected {finalEtag}): the partial file was deleted; run again to download it afresh");
                    }
                }
                string blob = Path.Combine(blobs, finalEtag);
                File.Move(incomplete, blob, overwrite: true);
                return PlaceSnapshotFile(repoDir, commit, filename, finalEtag, revision);
            }
            catch (RetryException) when (attempt == 0)
            {
                continue;
            }
            finally
            {
                resp?.Dispose();
            }
        }
    }

    private sealed class RetryException : Exception;

    private static bool SameHost(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port && a.Scheme == b.Scheme;

    private static string? Header(HttpResponseMessage r, string name)
    {
        if (r.Headers.TryGetValues(name, out var v)) return v.FirstOrDefault();
        if (r.Content.Headers.TryGetValues(name, out var c)) return c.FirstOrDefault();
        return null;
    }

    /// <summary>Strips a weak marker W/ and quotes from an ETag value.</summary>
    public static string? NormalizeEtag(string? etag)
    {
        if (string.IsNullOrWhiteSpace(etag)) return null;
        string e = etag.Trim();
        if (e.StartsWith("W/", StringComparison.Ordinal)) e = e[2..];
        e = e.Trim('"');
        return e.Length == 0 ? null : e;
    }

    private static bool IsSafeEtag(string e) =>
        e.Length is > 0 and <= 128 && e.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_');

    private ModelNotFoundException Unreachable(string repoId, Uri url, Exception e) => new(
        $"cannot reach {url.GetLeftPart(UriPartial.Authority)} to download model {repoId} ({SafetensorsFile.OneLine(e.Message)}): on a connected machine run `huggingface-cli download {repoId}` and copy the Hugging Face cache ({Options.CacheDir}) here, or pass a local model folder",
        e);

    private Exception HttpError(string repoId, string filename, Uri url, HttpResponseMessage resp)
    {
        int status = (int)resp.StatusCode;
        string? code = Header(resp, "X-Error-Code");
        if (status == 404 && code != "RepoNotFound" && filename != "config.json")
            return new EntryNotFoundException($"{filename} not found in model {repoId} on the hub (HTTP 404 for {url})");
        if (status == 404 || (status == 401 && code == "RepoNotFound"))
            return new ModelNotFoundException($"model {repoId} not found on the hub (HTTP {status} for {url}): check the id (e.g. gpt2, openai-community/gpt2), set HF_TOKEN for a private model, or pass a local folder");
        if (status is 401 or 403)
            return new ModelNotFoundException(Options.Token == null
                ? $"access denied to model {repoId} on the hub (HTTP {status} for {url}): the model is gated or private; accept its terms on the hub and set HF_TOKEN to an access token"
                : $"access denied to model {repoId} on the hub (HTTP {status} for {url}): the token in HF_TOKEN has no access; accept the model's terms on the hub or set HF_TOKEN to a token that has access");
        return new ModelNotFoundException($"download of {filename} of model {repoId} failed (HTTP {status} {resp.ReasonPhrase} for {url}): try again later or pass a local model folder");
    }

    private static async Task ReceiveBodyAsync(HttpResponseMessage resp, Uri url, string filename, string incomplete, long resumeFrom,
        long? linkedSize, IProgress<(string file, long done, long total)>? progress, CancellationToken ct)
    {
        long start = 0;
        if (resp.StatusCode == HttpStatusCode.PartialContent)
        {
            var cr = resp.Content.Headers.ContentRange;
            if (cr?.From is not long from || from != resumeFrom)
                throw new InvalidCheckpointException($"server answered a resume of {url} at byte {resumeFrom} with range {cr}: delete {incomplete} and run again");
            start = from;
        }
        long? length = resp.Content.Headers.ContentLength;
        long total = length is long l ? start + l : linkedSize ?? -1;

        FileStream fs;
        try
        {
            fs = new FileStream(incomplete, start > 0 ? FileMode.Open : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new SharpLensException($"cannot write {incomplete} ({SafetensorsFile.OneLine(e.Message)}): another process may be downloading the same file; wait for it or delete the file", e);
        }
        long done = start;
        await using (fs)
        {
            if (start > 0) { fs.SetLength(start); fs.Seek(start, SeekOrigin.Begin); }
            else fs.SetLength(0);
            progress?.Report((filename, done, total));
            var buffer = new byte[1 << 16];
            long lastReport = done;
            try
            {
                await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                int n;
                while ((n = await body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    await fs.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    done += n;
                    if (done - lastReport >= (1 << 20)) { progress?.Report((filename, done, total)); lastReport = done; }
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
            {
                await fs.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                throw new InvalidCheckpointException(
                    $"download of {filename} from {url} was cut off at {done} of {(total >= 0 ? total.ToString() : "?")} bytes ({SafetensorsFile.OneLine(e.Message)}): run again to resume from {incomplete}", e);
            }
            await fs.FlushAsync(ct).ConfigureAwait(false);
        }
        progress?.Report((filename, done, total));
        if (total >= 0 && done != total)
            throw new InvalidCheckpointException(
                $"download of {filename} from {url} was cut off at {done} of {total} bytes: run again to resume from {incomplete}");
    }

    private static async Task<string> Sha256OfFileAsync(string path, CancellationToken ct)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        byte[] hash = await SHA256.HashDataAsync(fs, ct).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    private static void WriteRef(string repoDir, string revision, string commit)
    {
        if (!SafetensorsCheckpoint.IsSafeRelativeFileName(revision)) return;
        string refFile = Path.Combine(repoDir, "refs", revision);
        Directory.CreateDirectory(Path.GetDirectoryName(refFile)!);
        if (File.Exists(refFile) && File.ReadAllText(refFile).Trim() == commit) return;
        string tmp = refFile + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(tmp, commit);
        File.Move(tmp, refFile, overwrite: true);
    }

    private static DownloadedFile PlaceSnapshotFile(string repoDir, string commit, string filename, string etag, string revision)
    {
        if (!CommitRegex().IsMatch(revision)) WriteRef(repoDir, revision, commit);
        string snapFile = Path.Combine(repoDir, "snapshots", commit, filename);
        string blob = Path.Combine(repoDir, "blobs", etag);
        Directory.CreateDirectory(Path.GetDirectoryName(snapFile)!);
        if (FileUsable(snapFile) && new FileInfo(snapFile).LinkTarget is string target
            && Path.GetFullPath(target, Path.GetDirectoryName(snapFile)!) == Path.GetFullPath(blob))
            return new DownloadedFile(snapFile, commit, etag);
        if (File.Exists(snapFile) || new FileInfo(snapFile).LinkTarget != null) File.Delete(snapFile);
        string relative = Path.GetRelativePath(Path.GetDirectoryName(snapFile)!, blob);
        try
        {
            File.CreateSymbolicLink(snapFile, relative);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            string tmp = snapFile + ".tmp";
            File.Copy(blob, tmp, overwrite: true);
            File.Move(tmp, snapFile, overwrite: true);
        }
        return new DownloadedFile(snapFile, commit, etag);
    }
}

/// <summary>Turns a model argument (local folder or hub id) into a folder holding config.json and safetensors weights.</summary>
public static class ModelResolver
{
    /// <summary>
    /// If <paramref name="modelIdOrPath"/> is an existing folder it is returned (after checking it holds
    /// config.json and a safetensors checkpoint); otherwise it is a hub id resolved through the Hugging Face
    /// cache, downloading missing files unless offline. <paramref name="options"/> defaults to
    /// <see cref="HubOptions.FromEnvironment"/>.
    /// </summary>
    /// <exception cref="ModelNotFoundException">Not found locally, in the cache, or on the hub; or unreachable.</exception>
    /// <exception cref="InvalidCheckpointException">A download was truncated or corrupt.</exception>
    public static string ResolveModelFolder(string modelIdOrPath, HubOptions? options = null,
        IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default) =>
        ResolveModelFolderAsync(modelIdOrPath, options, progress, ct).GetAwaiter().GetResult();

    /// <summary>Async <see cref="ResolveModelFolder"/>.</summary>
    public static async Task<string> ResolveModelFolderAsync(string modelIdOrPath, HubOptions? options = null,
        IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(modelIdOrPath))
            throw new InvalidInputException("no model given: pass a model folder or a hub id such as gpt2");
        if (Directory.Exists(modelIdOrPath))
        {
            string full = Path.GetFullPath(modelIdOrPath);
            if (!HubClient.ModelFolderComplete(full, out string missing))
                throw new ModelNotFoundException(
                    $"model folder {full} has no {missing}: pass a folder with config.json and model.safetensors (or model.safetensors.index.json and its shards)");
            return full;
        }
        if (File.Exists(modelIdOrPath))
            throw new InvalidInputException($"{modelIdOrPath} is a file: pass the folder that holds config.json and model.safetensors");
        bool looksLikePath = modelIdOrPath.StartsWith('.') || modelIdOrPath.StartsWith('/') || modelIdOrPath.StartsWith('~')
            || modelIdOrPath.Contains('\\') || Path.IsPathRooted(modelIdOrPath) || modelIdOrPath.Count(c => c == '/') > 1;
        if (looksLikePath || !HubClient.IsValidRepoId(modelIdOrPath))
            throw new ModelNotFoundException(
                $"model folder {modelIdOrPath} does not exist and is not a hub id: check the path, or pass a hub id such as gpt2 or openai-community/gpt2");
        using var client = new HubClient(options ?? HubOptions.FromEnvironment());
        return await client.ResolveModelAsync(modelIdOrPath, progress, ct).ConfigureAwait(false);
    }
}
