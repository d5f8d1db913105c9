using System.Net;
using System.Text.RegularExpressions;

namespace SharpLens.Loading;

/// <summary>
/// Downloads model files from the Hugging Face hub into the huggingface_hub cache layout
/// (<c>models--org--name/{blobs,refs,snapshots}</c>), so models downloaded by Python are reused and vice versa.
/// Blobs go through <c>blobs/ETAG.incomplete</c> (resumed with a Range request), are checked against their ETag
/// (SHA-256 of LFS files, git blob SHA-1 of the others; see <see cref="BlobChecksum"/>), then renamed; snapshot
/// files are symlinks to blobs (copies where symlinks fail). A cached blob that no longer matches is fetched again.
/// </summary>
public sealed partial class HubClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _endpoint;

    /// <summary>Endpoint, token, cache folder, timeouts and retries this client was created with.</summary>
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
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("sharplens/" + BuildInfo.Version.Split('+')[0]);
        _ownsHttp = true;
    }

    /// <summary>Releases the HTTP connection pool created by this client.</summary>
    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")]
    private static partial Regex RepoIdRegex();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitRegex();

    /// <summary>
    /// Splits a model argument <c>REPO@REVISION</c> (a branch, tag or commit, e.g. <c>EleutherAI/pythia-70m@step1000</c>)
    /// into the repo id and the revision; an argument without <c>@</c> has no revision (null).
    /// </summary>
    /// <param name="modelId">a hub id, optionally with @REVISION</param>
    /// <exception cref="InvalidInputException">An empty repo id or revision, or a revision with characters a git ref cannot hold.</exception>
    public static (string RepoId, string? Revision) SplitRevision(string modelId)
    {
        int at = modelId.IndexOf('@');
        if (at < 0) return (modelId, null);
        string repo = modelId[..at], revision = modelId[(at + 1)..];
        if (repo.Length == 0 || revision.Length == 0 || revision.Contains("..") || revision.StartsWith('/') || revision.EndsWith('/')
            || revision.Any(c => char.IsWhiteSpace(c) || c is '@' or '\\' or '~' or '^' or ':' or '?' or '*' or '['))
            throw new InvalidInputException($"'{modelId}' is not REPO@REVISION: give a hub id and a branch, tag or commit, e.g. EleutherAI/pythia-70m@step1000");
        return (repo, revision);
    }

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
    /// model.safetensors or the index and all its shards), or null. Makes no request. Every file of the snapshot
    /// is checked against the checksum its blob is named by; a damaged blob is removed (so that the next download
    /// fetches it again) and named in <paramref name="missing"/>.
    /// </summary>
    public string? TryGetCachedModel(string repoId, out string missing)
    {
        missing = "config.json";
        string? commit = CachedCommit(repoId);
        if (commit == null) { missing = $"refs/{Options.Revision}"; return null; }
        string snap = Path.Combine(RepoCacheFolder(repoId), "snapshots", commit);
        if (!ModelFolderComplete(snap, out missing)) return null;
        foreach (string file in CheckpointFiles(snap))
        {
            string path = Path.Combine(snap, file);
            if (new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true) is not FileInfo blob
                || Path.GetDirectoryName(blob.FullName) != Path.Combine(RepoCacheFolder(repoId), "blobs")
                || BlobChecksum.IsIntact(blob.FullName)) continue;
            BlobChecksum.Discard(blob.FullName);
            File.Delete(path);
            missing = $"{file}, whose cached copy failed its checksum and was removed";
            return null;
        }
        return snap;
    }

    /// <summary>The files a model needs in a complete folder: config.json and the single checkpoint, or the index and its shards.</summary>
    private static IEnumerable<string> CheckpointFiles(string folder)
    {
        yield return "config.json";
        if (FileUsable(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName))) { yield return SafetensorsCheckpoint.SingleFileName; yield break; }
        yield return SafetensorsCheckpoint.IndexFileName;
        foreach (var shard in SafetensorsCheckpoint.ReadShardNames(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName))) yield return shard;
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

