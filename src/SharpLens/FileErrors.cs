using System.Text.RegularExpressions;

namespace SharpLens;

/// <summary>
/// One-line messages, in the words SharpLens' other errors use (the problem, then what to do), for the file-system
/// failures a user can meet while SharpLens writes: a full disk, a read-only file system, a denied permission. The
/// operating system's own text ("No space left on device : '/x'") names neither the cause's fix nor, often, the option.
/// </summary>
public static partial class FileErrors
{
    // errno values (the HResult of .NET's IOException on Unix) and Win32 error codes (the low word of the HResult on Windows).
    private const int Enospc = 28, Erofs = 30, Edquot = 122;
    private const int ErrorDiskFull = 0x70, ErrorHandleDiskFull = 0x27, ErrorWriteProtect = 0x13;

    /// <summary>
    /// The message for <paramref name="e"/> when it is a full disk (or exceeded quota), a read-only file system or a
    /// denied permission; null for any other exception.
    /// </summary>
    /// <param name="e">An exception from a file operation.</param>
    /// <param name="option">The option that names where output goes, used in the advice (e.g. <c>--out</c>, <c>--reports</c>).</param>
    public static string? Describe(Exception e, string option = "--out")
    {
        string path = PathOf(e.Message) is string p ? $" {p}" : "";
        int code = e.HResult, win32 = e.HResult & 0xFFFF;
        bool windows = OperatingSystem.IsWindows();
        bool diskFull = windows ? win32 is ErrorDiskFull or ErrorHandleDiskFull : code is Enospc or Edquot;
        bool readOnly = windows ? win32 == ErrorWriteProtect : code == Erofs;
        return e switch
        {
            IOException when diskFull =>
                $"could not write{path}: the disk is full: free some space (or choose an {option} on another disk) and run the command again",
            IOException when readOnly =>
                $"could not write{path}: the file system is read-only: choose an {option} on a writable disk",
            UnauthorizedAccessException =>
                $"permission denied for{path}: change its permissions, or give a path this user can read and write",
            _ => null,
        };
    }

    /// <summary>The path .NET quotes at the end of its file-system messages ("... : '/x/y'" or "... path '/x/y' is denied.").</summary>
    private static string? PathOf(string message) => QuotedPath().Match(message) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"'([^']+)'")]
    private static partial Regex QuotedPath();
}
