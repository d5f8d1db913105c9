namespace SharpLens.Reports;

/// <summary>
/// An exclusive claim on an output folder for the length of one run, so that two runs writing the same report or
/// study folder do not overwrite each other's files unnoticed. It is an advisory lock (flock) on
/// <c>DIR/.sharplens.lock</c>, released when disposed or when the process ends, however it ends. Whoever holds it is
/// the only writer, so temporary files left in the folder by an interrupted run are removed when it is taken.
/// </summary>
public sealed class OutputFolderLock : IDisposable
{
    /// <summary>Name of the lock file inside the folder (deleted when the lock is released).</summary>
    public const string FileName = ".sharplens.lock";

    private readonly FileStream _stream;
    private readonly bool _created;

    private OutputFolderLock(string folder, FileStream stream, bool created) { Folder = folder; _stream = stream; _created = created; }

    /// <summary>The locked folder (full path).</summary>
    public string Folder { get; }

    /// <summary>
    /// Creates <paramref name="folder"/> when missing (and removes it again on release when the run wrote nothing), takes its lock, and deletes stale <c>*.tmp</c> files in it and
    /// its sub-folders (left by an interrupted run).
    /// </summary>
    /// <exception cref="OutputFolderInUseException">Another run holds the folder.</exception>
    public static OutputFolderLock Acquire(string folder)
    {
        string full = Path.GetFullPath(folder);
        bool created = !Directory.Exists(full);
        Directory.CreateDirectory(full);
        FileStream stream;
        try
        {
            // FileShare.None is an exclusive flock on Unix and a sharing-mode lock on Windows.
            stream = new FileStream(Path.Combine(full, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            throw new OutputFolderInUseException(
                $"output folder {full} is in use by another sharplens run: wait for it to finish, or write to another folder", e);
        }
        var claim = new OutputFolderLock(full, stream, created);
        claim.RemoveStaleTemporaryFiles();
        return claim;
    }

    /// <summary>Temporary files (<c>*.tmp</c>) of writes that never finished; only the lock holder may remove them.</summary>
    private void RemoveStaleTemporaryFiles()
    {
        foreach (string tmp in Directory.EnumerateFiles(Folder, "*.tmp", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2 }))
        {
            try { File.Delete(tmp); }
            catch (IOException) { } // a file that cannot be removed now is tried again on the next run
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Releases the folder (and deletes the lock file); a folder this lock created and nothing filled is removed again.</summary>
    public void Dispose()
    {
        _stream.Dispose();
        try
        {
            if (_created && !Directory.EnumerateFileSystemEntries(Folder).Any()) Directory.Delete(Folder);
        }
        catch (IOException) { } // another run may have just started writing into it
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>An output folder is being written by another run.</summary>
public sealed class OutputFolderInUseException(string message, Exception? inner = null) : SharpLensException(message, inner);
