namespace SharpLens.Neurons;

/// <summary>
/// An exclusive claim on an index file for one writer (<c>neurons index</c>, <c>neurons merge</c>), as
/// <c>OutputFolderLock</c> claims a report or study folder: two runs writing one index would both resume from the same
/// checkpoint and overwrite each other's work. It is an advisory lock (flock) on <c>PATH.lock</c> beside the index,
/// released when disposed or when the process ends, however it ends; readers (<see cref="NeuronIndex"/>) need no claim.
/// </summary>
public sealed class NeuronIndexLock : IDisposable
{
    private readonly FileStream _stream;

    private NeuronIndexLock(string path, FileStream stream) { Path = path; _stream = stream; }

    /// <summary>The claimed index file (full path).</summary>
    public string Path { get; }

    /// <summary>The lock file of index <paramref name="path"/>.</summary>
    public static string LockFileOf(string path) => System.IO.Path.GetFullPath(path) + ".lock";

    /// <summary>Claims <paramref name="path"/> (its folder must exist); a one-line error when another run holds it.</summary>
    /// <exception cref="InvalidInputException">Another process (or another claim in this one) is writing the index.</exception>
    public static NeuronIndexLock Acquire(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        try
        {
            // FileShare.None is an exclusive flock on Unix and a sharing-mode lock on Windows; the file goes when released.
            var stream = new FileStream(LockFileOf(full), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            return new NeuronIndexLock(full, stream);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            throw new InvalidInputException($"neuron index {full} is being written by another sharplens run: wait for it to finish (it resumes where that run stops), or choose another --out");
        }
    }

    /// <summary>Releases the index (and deletes the lock file).</summary>
    public void Dispose() => _stream.Dispose();
}
