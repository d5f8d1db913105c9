using System.Net;
using System.Net.Http.Headers;

namespace SharpLens.Loading;

/// <summary>
/// Downloading one file: redirects, resuming from <c>blobs/ETAG.incomplete</c>, a read-inactivity timeout, bounded
/// retries with backoff for stalls, dropped connections and 5xx answers, and a checksum check before a file
/// becomes a blob.
/// </summary>
public sealed partial class HubClient
{
    /// <summary>
    /// Downloads <paramref name="filename"/> of <paramref name="repoId"/> at <paramref name="revision"/> into the cache
    /// (skipping the body when an intact blob is already there) and returns its snapshot path. A stalled, dropped or
    /// failed (5xx) transfer is retried up to <see cref="HubOptions.MaxAttempts"/> times in all, each time resuming from
    /// the partial file; the final error says what happened and that running again resumes.
    /// </summary>
    /// <exception cref="ModelNotFoundException">The model or file is not on the hub, access is denied, or the hub is unreachable.</exception>
    /// <exception cref="InvalidCheckpointException">Every attempt was cut off, stalled or delivered bytes that fail the checksum.</exception>
    public async Task<DownloadedFile> DownloadFileAsync(string repoId, string filename, string revision,
        IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default)
    {
        if (!IsValidRepoId(repoId))
            throw new InvalidInputException($"'{repoId}' is not a valid hub model id: use an id like gpt2 or openai-community/gpt2");
        if (!SafetensorsCheckpoint.IsSafeRelativeFileName(filename))
            throw new InvalidCheckpointException($"refusing to download '{filename}' of model {repoId}: the name leaves the model folder");
        if (Options.Offline)
            throw new ModelNotFoundException($"cannot download {filename} of model {repoId}: HF_HUB_OFFLINE=1 forbids network access; unset it or pass a local model folder");

        var url = new Uri(_endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', filename.Split('/').Select(Uri.EscapeDataString))}");
        int maxAttempts = Math.Max(1, Options.MaxAttempts);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await DownloadOnceAsync(repoId, filename, revision, url, attempt, progress, ct).ConfigureAwait(false);
            }
            catch (TransientDownloadException e)
            {
                if (attempt >= maxAttempts) throw FinalError(repoId, filename, attempt, e);
                var delay = RetryDelay(attempt);
                Options.Retrying?.Invoke(new HubRetry(filename, e.Message, attempt + 1, maxAttempts, delay));
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Exponential backoff: RetryDelay, then twice that, and so on (capped at one minute).</summary>
    private TimeSpan RetryDelay(int failedAttempts) =>
        TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, Options.RetryDelay.Ticks << Math.Min(failedAttempts - 1, 20)));

    /// <summary>
    /// A failure worth another attempt. A partial file that cannot be resumed is deleted where that is found, before
    /// this is thrown, so the next attempt starts afresh whatever happens in between (state lives on disk, not in a flag).
    /// </summary>
    private sealed class TransientDownloadException(string reason, string? incomplete, bool corrupt = false, Exception? inner = null)
        : Exception(reason, inner)
    {
        public string? Incomplete { get; } = incomplete;
        public bool Corrupt { get; } = corrupt;
    }

    private static SharpLensException FinalError(string repoId, string filename, int attempts, TransientDownloadException e)
    {
        string tries = attempts == 1 ? "1 attempt" : $"{attempts} attempts";
        if (e.Corrupt)
            return new InvalidCheckpointException(
                $"download of {filename} of model {repoId} is corrupt after {tries} ({e.Message}): the partial file was deleted; run again to download it afresh", e);
        long kept = e.Incomplete is string p && File.Exists(p) ? new FileInfo(p).Length : 0;
        if (kept > 0)
            return new InvalidCheckpointException(
                $"download of {filename} of model {repoId} failed after {tries} ({e.Message}): {kept} bytes are kept; run again to resume from {e.Incomplete}", e);
        return new ModelNotFoundException(
            $"download of {filename} of model {repoId} failed after {tries} ({e.Message}): run again later, or pass a local model folder", e);
    }

    private async Task<DownloadedFile> DownloadOnceAsync(string repoId, string filename, string revision, Uri url, int attempt,
        IProgress<(string file, long done, long total)>? progress, CancellationToken ct)
    {
        string repoDir = RepoCacheFolder(repoId);
        string blobs = Path.Combine(repoDir, "blobs");
        string? commit = null, etag = null, linkedEtag = null, incomplete = null;
        long? linkedSize = null;
        long resumeFrom = 0;
        bool partialIsWhole = false;
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
                if (knownEtag != null && incomplete == null && IsSafeEtag(knownEtag))
                {
                    incomplete = Path.Combine(blobs, knownEtag + ".incomplete");
                    resumeFrom = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
                }
                if (resumeFrom > 0) req.Headers.Range = new RangeHeaderValue(resumeFrom, null);
                resp?.Dispose();
                resp = await SendAsync(req, repoId, current, attempt, incomplete, ct).ConfigureAwait(false);
                commit ??= Header(resp, "X-Repo-Commit");
                linkedEtag ??= NormalizeEtag(Header(resp, "X-Linked-Etag"));
                etag ??= NormalizeEtag(resp.Headers.ETag?.ToString() ?? Header(resp, "ETag"));
                if (linkedSize == null && long.TryParse(Header(resp, "X-Linked-Size"), out long ls)) linkedSize = ls;

                // Cached already and intact? Skip the body. A damaged blob is removed and fetched again.
                string? e0 = linkedEtag ?? etag;
                if (commit != null && e0 != null && IsSafeEtag(e0) && File.Exists(Path.Combine(blobs, e0)))
                {
                    string cachedBlob = Path.Combine(blobs, e0);
                    if (BlobChecksum.IsIntact(cachedBlob))
                    {
                        var done = PlaceSnapshotFile(repoDir, commit, filename, e0, revision);
                        long size = new FileInfo(cachedBlob).Length;
                        progress?.Report((filename, size, size));
                        return done;
                    }
                    BlobChecksum.Discard(cachedBlob);
                }

                int status = (int)resp.StatusCode;
                if (status is >= 300 and < 400 && resp.Headers.Location != null)
                {
                    current = resp.Headers.Location.IsAbsoluteUri ? resp.Headers.Location : new Uri(current, resp.Headers.Location);
                    continue;
                }
                if (status == 416 && resumeFrom > 0)
                {
                    // Nothing left to send: an earlier attempt may have received every byte before the connection
                    // broke. The checksum below decides; a partial file that fails it is deleted and fetched afresh.
                    partialIsWhole = true;
                    break;
                }
                if (status >= 500 || status is 408 or 429)
                    throw new TransientDownloadException($"HTTP {status} {resp.ReasonPhrase} for {current}", incomplete);
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
            // The ETag is the only checksum the hub gives; a file that cannot be checked must not enter the cache.
            string kind = BlobChecksum.Kind(finalEtag)
                ?? throw new ModelNotFoundException($"the server at {Options.Endpoint} sent ETag '{finalEtag}' for {url}, which is neither a SHA-256 nor a git SHA-1, so the file cannot be verified and is not cached: check HF_ENDPOINT points to a Hugging Face hub");
            if (incomplete == null || !incomplete.EndsWith(finalEtag + ".incomplete", StringComparison.Ordinal))
            {
                if (partialIsWhole)
                    throw new TransientDownloadException($"the server cannot resume at byte {resumeFrom}", incomplete);
                incomplete = Path.Combine(blobs, finalEtag + ".incomplete");
                resumeFrom = 0;
            }
            Directory.CreateDirectory(blobs);
            if (!CommitRegex().IsMatch(revision)) WriteRef(repoDir, revision, commit);
            if (!partialIsWhole)
                await ReceiveBodyAsync(resp, url, filename, incomplete, resumeFrom, linkedSize, progress, ct).ConfigureAwait(false);

            string actual = await BlobChecksum.ComputeAsync(incomplete, kind, ct).ConfigureAwait(false);
            if (actual != finalEtag)
            {
                File.Delete(incomplete);
                if (partialIsWhole)
                    throw new TransientDownloadException($"the server cannot resume at byte {resumeFrom} and the {resumeFrom} bytes kept fail the checksum", incomplete, corrupt: true);
                throw new TransientDownloadException($"{kind} {actual}, expected {finalEtag}", incomplete, corrupt: true);
            }
            string blob = Path.Combine(blobs, finalEtag);
            File.Move(incomplete, blob, overwrite: true);
            BlobChecksum.Stamp(blob);
            return PlaceSnapshotFile(repoDir, commit, filename, finalEtag, revision);
        }
        finally
        {
            resp?.Dispose();
        }
    }

    /// <summary>Sends a request and waits for its headers at most <see cref="HubOptions.ReadTimeout"/>.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage req, string repoId, Uri url, int attempt, string? incomplete, CancellationToken ct)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stall.CancelAfter(Options.ReadTimeout);
        try
        {
            return await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, stall.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TransientDownloadException($"{url.GetLeftPart(UriPartial.Authority)} sent no answer within {Seconds(Options.ReadTimeout)} (SHARPLENS_HUB_TIMEOUT)", incomplete, inner: e);
        }
        catch (HttpRequestException e) when (!ct.IsCancellationRequested)
        {
            // No server at all fails at once; a server that was there and dropped the connection is tried again.
            if (attempt == 1 && e.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError
                or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError)
                throw Unreachable(repoId, url, e);
            throw new TransientDownloadException($"connection to {url.GetLeftPart(UriPartial.Authority)} failed: {SafetensorsFile.OneLine(e.Message)}", incomplete, inner: e);
        }
    }

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s";

    private async Task ReceiveBodyAsync(HttpResponseMessage resp, Uri url, string filename, string incomplete, long resumeFrom,
        long? linkedSize, IProgress<(string file, long done, long total)>? progress, CancellationToken ct)
    {
        long start = 0;
        if (resp.StatusCode == HttpStatusCode.PartialContent)
        {
            var cr = resp.Content.Headers.ContentRange;
            if (cr?.From is not long from || from != resumeFrom)
            {
                File.Delete(incomplete);
                throw new TransientDownloadException($"the server answered a resume at byte {resumeFrom} with range {cr}", incomplete);
            }
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
            // The inactivity timer restarts before every read: a slow but moving download is never cut off.
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                stall.CancelAfter(Options.ReadTimeout);
                await using var body = await resp.Content.ReadAsStreamAsync(stall.Token).ConfigureAwait(false);
                while (true)
                {
                    stall.CancelAfter(Options.ReadTimeout);
                    int n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                    if (n == 0) break;
                    await fs.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    done += n;
                    if (done - lastReport >= (1 << 20)) { progress?.Report((filename, done, total)); lastReport = done; }
                }
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                await fs.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                throw new TransientDownloadException(
                    $"no data for {Seconds(Options.ReadTimeout)} (SHARPLENS_HUB_TIMEOUT) after {done} of {(total >= 0 ? total.ToString() : "?")} bytes from {url}", incomplete, inner: e);
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
            {
                await fs.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                throw new TransientDownloadException(
                    $"cut off at {done} of {(total >= 0 ? total.ToString() : "?")} bytes from {url}: {SafetensorsFile.OneLine(e.Message)}", incomplete, inner: e);
            }
            await fs.FlushAsync(ct).ConfigureAwait(false);
        }
        progress?.Report((filename, done, total));
        if (total >= 0 && done != total)
            throw new TransientDownloadException($"cut off at {done} of {total} bytes from {url}", incomplete);
    }
}
