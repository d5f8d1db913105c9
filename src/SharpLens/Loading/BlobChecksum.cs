using System.Security.Cryptography;
using System.Text;

namespace SharpLens.Loading;

/// <summary>
/// The checksum a hub ETag names: LFS files carry the SHA-256 of their content, every other file its git blob SHA-1
/// (SHA-1 of <c>"blob {length}\0"</c> followed by the content). A blob enters the cache only once its content matches,
/// and a cached blob is checked again before use (once per change of its length or time stamp, remembered in a
/// <c>blobs/ETAG.verified</c> stamp next to it) so a truncated or damaged file is found and fetched again.
/// </summary>
public static class BlobChecksum
{
    /// <summary>Which checksum an ETag is: "sha256", "git-sha1", or null when it is neither (cannot be verified).</summary>
    public static string? Kind(string etag) => etag.Length switch
    {
        64 when IsLowerHex(etag) => "sha256",
        40 when IsLowerHex(etag) => "git-sha1",
        _ => null,
    };

    /// <summary>The checksum of the file at <paramref name="path"/> of the given <paramref name="kind"/> (see <see cref="Kind"/>), lower-case hex.</summary>
    public static async Task<string> ComputeAsync(string path, string kind, CancellationToken ct = default)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        if (kind == "sha256") return Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, ct).ConfigureAwait(false));
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {fs.Length}\0"));
        var buffer = new byte[1 << 20];
        int n;
        while ((n = await fs.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0) sha1.AppendData(buffer, 0, n);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    /// <summary>
    /// Whether the blob file named by its ETag holds what the ETag says. A stamp written after a successful check
    /// saves hashing large files on every run; it is ignored once the blob's length or time stamp changes.
    /// </summary>
    public static bool IsIntact(string blobPath)
    {
        string etag = Path.GetFileName(blobPath);
        if (Kind(etag) is not string kind) return true; // not named by a checksum (written by another tool): nothing to check against
        try
        {
            if (HasValidStamp(blobPath)) return true;
            bool ok = ComputeAsync(blobPath, kind).GetAwaiter().GetResult() == etag;
            if (ok) Stamp(blobPath);
            return ok;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Records that <paramref name="blobPath"/> was checked as it is now (length and last write time).</summary>
    public static void Stamp(string blobPath)
    {
        try
        {
            string stamp = StampPath(blobPath), tmp = stamp + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(tmp, Fingerprint(blobPath));
            File.Move(tmp, stamp, overwrite: true);
        }
        catch (IOException) { } // a stamp only saves time; without one the blob is hashed again next run
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Removes a damaged blob and its stamp so that it is downloaded again.</summary>
    public static void Discard(string blobPath)
    {
        File.Delete(StampPath(blobPath));
        File.Delete(blobPath);
    }

    private static bool HasValidStamp(string blobPath)
    {
        string stamp = StampPath(blobPath);
        return File.Exists(stamp) && File.ReadAllText(stamp) == Fingerprint(blobPath);
    }

    private static string StampPath(string blobPath) => blobPath + ".verified";

    private static string Fingerprint(string blobPath)
    {
        var fi = new FileInfo(blobPath);
        return $"{fi.Length} {fi.LastWriteTimeUtc.Ticks}";
    }

    private static bool IsLowerHex(string s) => s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
