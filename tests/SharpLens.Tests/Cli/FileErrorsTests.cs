using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Neurons;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>
/// A full disk, a read-only file system and a denied permission are one line in SharpLens' words (what happened, what
/// to do), not the operating system's text; the full disk is a real one (/dev/full), and a command that meets it
/// leaves no half-written file.
/// </summary>
public class FileErrorsTests
{
    [Fact]
    public void A_full_disk_says_so_and_what_to_do()
    {
        var e = Assert.ThrowsAny<IOException>(() => File.WriteAllText("/dev/full", new string('x', 1 << 16)));
        Assert.Equal("could not write /dev/full: the disk is full: free some space (or choose an --out on another disk) and run the command again", FileErrors.Describe(e));
    }

    [Fact]
    public void A_read_only_file_system_and_a_denied_permission_say_so()
    {
        // As .NET raises them on Unix: the errno as HResult (EROFS = 30), the path quoted at the end.
        Assert.Equal("could not write /mnt/ro/x.json: the file system is read-only: choose an --reports on a writable disk",
            FileErrors.Describe(new IOException("Read-only file system : '/mnt/ro/x.json'", 30), "--reports"));
        Assert.Equal("permission denied for /root/x: change its permissions, or give a path this user can read and write",
            FileErrors.Describe(new UnauthorizedAccessException("Access to the path '/root/x' is denied.")));
        Assert.Null(FileErrors.Describe(new IOException("something else : '/x'", 5)));
        Assert.Null(FileErrors.Describe(new InvalidOperationException("not a file error")));
    }

    [Fact]
    public void A_command_that_meets_a_full_disk_is_one_line_exit_2_and_leaves_no_file()
    {
        using var dir = new TempDir();
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(dir.File("corpus"), documents: 1));
        string db = dir.File("n.db");
        NeuronIndexBuilder.Build(TinyIndexModel.Create(), corpus, db, new IndexOptions { Context = 16, TopK = 2, DirectEffectTokens = 2 });
        string json = dir.File("L0N1.json");
        File.CreateSymbolicLink(json + ".tmp", "/dev/full");   // the temporary file it writes first lands on a full disk

        var r = CliRunner.Run("neurons", "show", "L0N1", "--db", db, "--json", json);
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, $"could not write {json}.tmp: the disk is full");
        Assert.False(File.Exists(json));
        Assert.Null(new FileInfo(json + ".tmp").LinkTarget);   // the temporary file went too
    }
}
