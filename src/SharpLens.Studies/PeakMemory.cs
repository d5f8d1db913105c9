using System.Diagnostics;
using System.Globalization;

namespace SharpLens.Studies;

/// <summary>
/// The process's peak resident memory (<see cref="Process.PeakWorkingSet64"/>, what <c>/usr/bin/time -v</c> reports as
/// "Maximum resident set size"), recorded with every study run so its cost is never a surprise.
/// </summary>
public static class PeakMemory
{
    /// <summary>Peak resident memory of this process so far, in bytes (model load included).</summary>
    public static long Bytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    /// <summary>"1.4 GB" from 1 GB up, else "180 MB" (powers of 1024, as <c>free -h</c> and <c>top</c> count).</summary>
    /// <param name="bytes">a size in bytes</param>
    public static string Format(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GB"
        : (bytes >> 20).ToString(CultureInfo.InvariantCulture) + " MB";
}
