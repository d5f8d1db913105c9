namespace SharpLens.Reports;

/// <summary>
/// Checks, before any work, that an output path can be written, so that a path that cannot fails in a second with a
/// message saying what to do, not after the model has loaded and the work is done: the CLI checks every declared output
/// option, the explorer its reports folder at start-up.
/// </summary>
public static class OutputLocation
{
    /// <summary>Checks that <paramref name="path"/>, given as <paramref name="option"/>, can be written as a file.</summary>
    /// <exception cref="InvalidInputException">It is a folder, or no file can be created where it would go.</exception>
    public static void RequireWritableFile(string option, string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new InvalidInputException($"{option} {path} is a folder, not a file: give the path of the file to write (for example a new file inside that folder)");
        RequireWritable(option, path, Path.GetDirectoryName(full)!);
    }

    /// <summary>Checks that <paramref name="path"/>, given as <paramref name="option"/>, is or can become a folder to write into.</summary>
    /// <exception cref="InvalidInputException">It is a file, or no file can be created in it (or where it would be created).</exception>
    public static void RequireWritableFolder(string option, string path)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
            throw new InvalidInputException($"{option} {path} is a file, not a folder: name a folder to write into (it is created when missing)");
        RequireWritable(option, path, full);
    }

    /// <summary>The nearest existing folder at or above <paramref name="folder"/> must be a folder we can create files in.</summary>
    private static void RequireWritable(string option, string path, string folder)
    {
        string existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
                throw new InvalidInputException($"{option} {path} cannot be written: {existing} is a file, not a folder; choose a path inside a folder");
            existing = Path.GetDirectoryName(existing) ?? throw new InvalidInputException($"{option} {path} cannot be written: no folder on its path exists");
        }
        string probe = Path.Combine(existing, $".sharplens-write-check-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e is UnauthorizedAccessException ? "permission denied" : FileErrors.Describe(e) is null ? "the file system refuses new files there" : "the disk is full or read-only";
            throw new InvalidInputException($"{option} {path} cannot be written: SharpLens cannot create files in {existing} ({reason}); choose a folder you can write to");
        }
    }
}
