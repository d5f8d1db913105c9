using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace SharpLens.Tests.Loading;

/// <summary>
/// A tiny loopback HTTP/1.1 server that answers like the Hugging Face hub: <c>/{repo}/resolve/{rev}/{file}</c>
/// gives 200 + ETag (git sha1) for small files and 302 + X-Linked-Etag (sha256) to <c>/cdn/{sha256}</c> for LFS
/// files; the CDN path honours <c>Range: bytes=N-</c> with 206. Faults can be injected.
/// </summary>
public sealed class FakeHub : IDisposable
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _loop;

    public record Request(string Method, string Path, Dictionary<string, string> Headers);

    public ConcurrentQueue<Request> Requests { get; } = new();
    public Dictionary<string, Dictionary<string, (byte[] Data, bool Lfs)>> Repos { get; } = new();
    public string? RequiredToken { get; set; }
    /// <summary>Branches and tags the hub answers (each at <see cref="Commit"/>).</summary>
    public HashSet<string> Revisions { get; } = ["main"];
    /// <summary>How many CDN responses to cut off after half the body.</summary>
    public int TruncateCdn;
    /// <summary>Serve corrupted bytes from the CDN.</summary>
    public bool CorruptCdn { get; set; }
    /// <summary>Faults for the next responses, taken one per response in order (see <see cref="Fault"/>).</summary>
    public ConcurrentQueue<Fault> Faults { get; } = new();
    /// <summary>Send ETags that are no checksum (as a misconfigured mirror would).</summary>
    public bool OpaqueEtags { get; set; }

    /// <summary>What can go wrong with one response.</summary>
    public enum FaultKind
    {
        /// <summary>Read the request, never answer.</summary>
        StallBeforeHeaders,
        /// <summary>Send the headers, then no byte of the body.</summary>
        StallAfterHeaders,
        /// <summary>Send <see cref="Fault.Bytes"/> bytes of the body, then nothing.</summary>
        StallAfterBytes,
        /// <summary>Send <see cref="Fault.Bytes"/> bytes of the body, then close the connection.</summary>
        DropAfterBytes,
        /// <summary>Answer with HTTP status <see cref="Fault.Bytes"/> and no body.</summary>
        Status,
        /// <summary>Send only the first half of the file, with a Content-Length that matches the half.</summary>
        ShortContent,
        /// <summary>Declare 100 bytes more than the file, send the file, close.</summary>
        LongContentLength,
        /// <summary>Send the file with its last byte flipped.</summary>
        Corrupt,
    }

    /// <summary>A fault for the next response that serves <see cref="File"/> (any file when null).</summary>
    public sealed record Fault(FaultKind Kind, string? File = null, int Bytes = 0);

    /// <summary>Queues <paramref name="count"/> copies of a fault.</summary>
    public void Inject(FaultKind kind, string? file = null, int bytes = 0, int count = 1)
    {
        for (int i = 0; i < count; i++) Faults.Enqueue(new Fault(kind, file, bytes));
    }

    private Fault? TakeFault(string file)
    {
        lock (Faults)
            return Faults.TryPeek(out var f) && (f.File is null || f.File == file) && Faults.TryDequeue(out f) ? f : null;
    }

    private async Task Hang()
    {
        try { await Task.Delay(Timeout.Infinite, _cts.Token); }
        catch (OperationCanceledException) { }
    }

    public string Endpoint { get; }

    public FakeHub()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _loop = Task.Run(AcceptLoop);
    }

    public void AddFile(string repo, string file, byte[] data, bool lfs)
    {
        if (!Repos.TryGetValue(repo, out var files)) Repos[repo] = files = new();
        files[file] = (data, lfs);
    }

    public static string Sha256Hex(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
    public static string GitSha1(byte[] data) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {data.Length}\0"), .. data]));

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_cts.Token); }
            catch { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try { await Handle(client.GetStream()); }
                    catch (IOException) { }
                    catch (SocketException) { }
                }
            });
        }
    }

    private static async Task<string?> ReadHead(NetworkStream s)
    {
        var buf = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            int n = await s.ReadAsync(one);
            if (n == 0) return null;
            buf.Add(one[0]);
            int c = buf.Count;
            if (c >= 4 && buf[c - 4] == '\r' && buf[c - 3] == '\n' && buf[c - 2] == '\r' && buf[c - 1] == '\n')
                return Encoding.ASCII.GetString(buf.ToArray());
            if (c > 65536) return null;
        }
    }

    private async Task Handle(NetworkStream s)
    {
        string? head = await ReadHead(s);
        if (head == null) return;
        var lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var parts = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var l in lines.Skip(1))
        {
            int i = l.IndexOf(':');
            if (i > 0) headers[l[..i].Trim()] = l[(i + 1)..].Trim();
        }
        string path = Uri.UnescapeDataString(parts[1]);
        Requests.Enqueue(new Request(parts[0], path, headers));

        async Task Send(int status, string reason, Dictionary<string, string> h, byte[] body, int? sendOnly = null, Fault? fault = null)
        {
            if (fault?.Kind == FaultKind.StallBeforeHeaders) { await Hang(); return; }
            if (fault?.Kind == FaultKind.Status) { status = fault.Bytes; reason = "Injected"; body = []; }
            if (fault?.Kind == FaultKind.ShortContent) body = body[..(body.Length / 2)];
            if (fault?.Kind == FaultKind.Corrupt && body.Length > 0) { body = (byte[])body.Clone(); body[^1] ^= 0xFF; }
            var sb = new StringBuilder($"HTTP/1.1 {status} {reason}\r\n");
            h["Content-Length"] = (body.Length + (fault?.Kind == FaultKind.LongContentLength ? 100 : 0)).ToString();
            h["Connection"] = "close";
            foreach (var kv in h) sb.Append($"{kv.Key}: {kv.Value}\r\n");
            sb.Append("\r\n");
            await s.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
            await s.FlushAsync();
            if (fault?.Kind == FaultKind.StallAfterHeaders) { await Hang(); return; }
            if (fault?.Kind is FaultKind.StallAfterBytes or FaultKind.DropAfterBytes) sendOnly = Math.Min(fault.Bytes, body.Length);
            await s.WriteAsync(body.AsMemory(0, sendOnly ?? body.Length));
            await s.FlushAsync();
            if (fault?.Kind == FaultKind.StallAfterBytes) await Hang();
        }

        if (path.StartsWith("/cdn/"))
        {
            string sha = path["/cdn/".Length..];
            var (cdnFile, (blob, _)) = Repos.Values.SelectMany(f => f).FirstOrDefault(f => Sha256Hex(f.Value.Data) == sha);
            if (blob == null) { await Send(404, "Not Found", new(), []); return; }
            var cdnFault = TakeFault(cdnFile);
            if (CorruptCdn) { blob = (byte[])blob.Clone(); blob[^1] ^= 0xFF; }
            long from = 0;
            if (headers.TryGetValue("Range", out var range) && range.StartsWith("bytes=") && range.EndsWith("-"))
                from = long.Parse(range[6..^1]);
            if (from >= blob.Length && from > 0)
            {
                await Send(416, "Range Not Satisfiable", new() { ["Content-Range"] = $"bytes */{blob.Length}" }, []);
                return;
            }
            var body = blob[(int)from..];
            var h = new Dictionary<string, string> { ["ETag"] = "\"cdn-etag-not-the-sha\"" };
            int status = 200;
            if (from > 0) { status = 206; h["Content-Range"] = $"bytes {from}-{blob.Length - 1}/{blob.Length}"; }
            if (Interlocked.Decrement(ref TruncateCdn) >= 0)
                await Send(status, status == 200 ? "OK" : "Partial Content", h, body, body.Length / 2);
            else
                await Send(status, status == 200 ? "OK" : "Partial Content", h, body, fault: cdnFault);
            return;
        }

        int r = path.IndexOf("/resolve/", StringComparison.Ordinal);
        if (r < 0) { await Send(404, "Not Found", new(), []); return; }
        string repo = path[1..r];
        string rest = path[(r + "/resolve/".Length)..];
        int slash = rest.IndexOf('/');
        string rev = rest[..slash];
        string file = rest[(slash + 1)..];
        if (RequiredToken != null && (!headers.TryGetValue("Authorization", out var auth) || auth != "Bearer " + RequiredToken))
        {
            await Send(401, "Unauthorized", new() { ["X-Error-Code"] = "GatedRepo" }, "Access to model is restricted"u8.ToArray());
            return;
        }
        if (!Repos.TryGetValue(repo, out var files) || (rev != Commit && !Revisions.Contains(rev)))
        {
            await Send(404, "Not Found", new() { ["X-Error-Code"] = "RepoNotFound" }, "Repository not found"u8.ToArray());
            return;
        }
        if (!files.TryGetValue(file, out var entry))
        {
            await Send(404, "Not Found", new() { ["X-Error-Code"] = "EntryNotFound" }, "Entry not found"u8.ToArray());
            return;
        }
        if (Faults.TryPeek(out var next) && next.Kind is FaultKind.Status or FaultKind.StallBeforeHeaders && (next.File is null || next.File == file))
        {
            await Send(200, "OK", new(), [], fault: TakeFault(file));
            return;
        }
        if (entry.Lfs)
        {
            string sha = Sha256Hex(entry.Data);
            await Send(302, "Found", new()
            {
                ["Location"] = $"/cdn/{sha}",
                ["X-Repo-Commit"] = Commit,
                ["X-Linked-Etag"] = OpaqueEtags ? "\"not-a-checksum\"" : $"\"{sha}\"",
                ["X-Linked-Size"] = entry.Data.Length.ToString(),
                ["ETag"] = "W/\"redirect-etag\"",
            }, []);
        }
        else
        {
            string etag = OpaqueEtags ? "not-a-checksum" : GitSha1(entry.Data);
            await Send(200, "OK", new() { ["X-Repo-Commit"] = Commit, ["ETag"] = $"\"{etag}\"" }, entry.Data, fault: TakeFault(file));
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
        try { _loop.Wait(1000); } catch (AggregateException) { }
    }
}
