using System.Diagnostics;
using System.Text;
using SharpLens.Tests.Loading;

namespace SharpLens.Tests.InputFiles;

/// <summary>
/// No crash on any input file. Every row of <see cref="FileReaders.All"/> (results, study files, circuits, references,
/// inputs, configs, checkpoints, neuron indexes, corpora, templates, report manifests) is run on hundreds of damaged
/// variants of a valid file (<see cref="FileMutations"/>: truncation at many offsets, byte flips, wrong encodings, empty
/// files, folders, wrong JSON types per field, ragged arrays, missing keys, huge numbers, NaN/Infinity, duplicate keys,
/// deep nesting). For each variant:
/// <list type="bullet">
/// <item>a library call returns or throws a <see cref="SharpLensException"/> whose message is one line naming the file;</item>
/// <item>a command line exits 0 (or 1, a check that failed), or exits 2 with exactly one line on stderr that names the
/// file, no stack trace and nothing written to its output path;</item>
/// <item>nothing else (no other exception, no other exit code), and a variant no reader may accept (not UTF-8, not JSON,
/// empty, a folder: <see cref="FileMutations.MustFail"/>) is refused.</item>
/// </list>
/// To cover a new reader, add a row to <see cref="FileReaders.All"/>; nothing here changes.
/// </summary>
[Collection("study-cli")]
public class InputFileFuzzTests
{
    [Theory]
    [MemberData(nameof(FileReaders.Names), MemberType = typeof(FileReaders))]
    public void ADamagedFileIsOneLineNamingItAndNeverACrash(string reader)
    {
        var row = FileReaders.All.Single(r => r.Name == reader);
        using var dir = new TempDir();
        string path = dir.File(row.FileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        byte[] valid = row.Valid(dir.Path);
        var clock = Stopwatch.StartNew();

        // The valid file itself must be read without complaint, or the row tests nothing.
        File.WriteAllBytes(path, valid);
        var baseline = Outcome(row, path, dir.File("out-valid"));
        Assert.True(baseline.Accepted, $"{row.Name}: the valid file was refused: {baseline.Detail}");

        var failures = new List<string>();
        int refused = 0, accepted = 0, i = 0;
        foreach (var m in FileMutations.Of(valid, row.Format, row.Mutations, StableSeed(row.Name)))
        {
            Place(path, m);
            string output = dir.File($"out-{i++}");
            var o = Outcome(row, path, output);
            if (o.Problem is not null) failures.Add($"{m.Name}: {o.Problem}");
            else if (m.MustFail && o.Accepted && !(m.IsFolder && row.FolderIsValid)) failures.Add($"{m.Name}: accepted, but no reader may accept it");
            else if (o.Accepted) accepted++;
            else
            {
                refused++;
                if (Written(output) is string written) failures.Add($"{m.Name}: refused ({o.Detail}) but wrote {written}");
            }
        }
        Assert.True(failures.Count == 0, $"{row.Name}: {failures.Count} of {row.Mutations} mutations mishandled:\n" + string.Join("\n", failures.Take(25)));
        Assert.True(refused > row.Mutations / 10, $"{row.Name}: only {refused} of {row.Mutations} mutations were refused ({accepted} accepted)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{row.Name} took {clock.Elapsed.TotalSeconds:F0} s");
    }

    private sealed record Result(bool Accepted, string? Problem, string Detail);

    private static Result Outcome(FileReader row, string path, string output)
    {
        if (row.Read is not null)
        {
            try
            {
                row.Read(path);
                return new(true, null, "read");
            }
            catch (SharpLensException e)
            {
                string? problem = e.Message.Contains('\n') ? $"a message of several lines: {e.Message}"
                    : !NamesFile(e.Message, path) ? $"the message does not name the file: {e.Message}" : null;
                return new(false, problem, e.Message);
            }
            catch (Exception e)
            {
                return new(false, $"unhandled {e.GetType().Name}: {e.Message}\n{e.StackTrace}", e.Message);
            }
        }
        var run = InProcessCli.Run(row.Command!(path, output));
        if (run.Unhandled is { } ex) return new(false, $"unhandled {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}", ex.Message);
        if (run.Code is 0 or 1) return new(true, null, $"exit {run.Code}");
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string? why = run.Code != 2 ? $"exit {run.Code}"
            : lines.Length != 1 ? $"{lines.Length} lines on stderr: {run.Stderr}"
            : run.Stderr.Contains("   at ", StringComparison.Ordinal) ? $"a stack trace: {run.Stderr}"
            : !NamesFile(run.Stderr, path) ? $"the error does not name the file: {run.Stderr.Trim()}" : null;
        return new(false, why, run.Stderr.Trim());
    }

    // The file's path or name, or the folder it belongs to (a model folder's config.json and checkpoint are read together,
    // and a checkpoint that does not match its config is reported on the folder's files).
    private static bool NamesFile(string message, string path) =>
        message.Contains(path, StringComparison.Ordinal) || message.Contains(Path.GetFileName(path), StringComparison.Ordinal)
        || message.Contains(Path.GetDirectoryName(path)!, StringComparison.Ordinal);

    private static void Place(string path, Mutation m)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        if (m.IsFolder)
        {
            if (File.Exists(path)) File.Delete(path);
            Directory.CreateDirectory(path);
            File.WriteAllText(Path.Combine(path, "inside.txt"), "a file inside the folder");
        }
        else File.WriteAllBytes(path, m.Bytes!);
    }

    private static string? Written(string output) =>
        File.Exists(output) ? output : Directory.Exists(output) ? Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).FirstOrDefault() : null;

    private static int StableSeed(string name) => name.Aggregate(17, (h, c) => unchecked(h * 31 + c));

    [Fact]
    public void StudyVerifyOnAGridOneColumnShortNamesTheFileAndTheField()
    {
        // The case: a results.json whose grid lost a column used to end in ArgumentOutOfRangeException (exit 134).
        using var dir = new TempDir();
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Artifacts.Study.Results))!;
        var grid = Grids(root["groups"]).First();
        var row = grid["values"]![0]!.AsArray();
        int columns = row.Count;
        row.RemoveAt(columns - 1);
        string path = dir.File("results.json");
        File.WriteAllText(path, root.ToJsonString());
        var run = InProcessCli.Run(["study", "verify", path, "--reference", Artifacts.Study.Reference]);
        Assert.Null(run.Unhandled);
        Assert.Equal(2, run.Code);
        string error = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(path, error);
        Assert.Contains($".values[0] has {columns - 1} values for {columns} columns", error);
    }

    private static IEnumerable<System.Text.Json.Nodes.JsonObject> Grids(System.Text.Json.Nodes.JsonNode? node) => node switch
    {
        System.Text.Json.Nodes.JsonObject o when o["values"] is System.Text.Json.Nodes.JsonArray && o["cols"] is not null => [o],
        System.Text.Json.Nodes.JsonObject o => o.SelectMany(kv => Grids(kv.Value)),
        _ => [],
    };

    [Fact]
    public void TheMutationsCoverEveryKindOfDamage()
    {
        var valid = Encoding.UTF8.GetBytes("""{"a": [[1, 2], [3, 4]], "b": {"c": "text", "d": true}}""");
        var names = FileMutations.Of(valid, FileFormat.Json, 400, 1).Select(m => m.Name).ToList();
        foreach (var kind in new[] { "empty file", "a folder", "truncated", "UTF-16", "UTF-32", "invalid UTF-8", "NUL byte", "removed", "lost its last element",
                     "gained an element", "1e39", "\"NaN\"", "bare NaN", "duplicated", "nested 200 deep", "-> []" })
            Assert.Contains(names, n => n.Contains(kind, StringComparison.Ordinal));
        // The oracle: a truncated JSON document and a UTF-16 file must be refused; a UTF-8 byte order mark need not be.
        Assert.True(FileMutations.MustFail(valid[..^1], FileFormat.Json));
        Assert.True(FileMutations.MustFail(Encoding.Unicode.GetBytes("{}"), FileFormat.Json));
        Assert.False(FileMutations.MustFail([0xEF, 0xBB, 0xBF, .. valid], FileFormat.Json));
    }
}
