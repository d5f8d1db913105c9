using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>
/// Arguments that once were accepted silently (a colour range upside down, negative counts and intervals, two model
/// sources at once, an analysis input given to plot, a reports folder Export could not write): each is one line on
/// stderr naming the option, exit 2, before any work (the model given does not exist), and nothing is written.
/// </summary>
public class RejectedArgumentsTests
{
    private const string NoModel = "/no/such/model-folder";

    public static TheoryData<string, string> Cases() => new()
    {
        { "view neurons --min 5 --max -5", "--min 5 must be below --max -5" },
        { "view neurons --max NaN", "--max NaN is not a finite number" },
        { "neurons index --stop-after -1", "--stop-after -1 must be at least 1" },
        { "neurons index --checkpoint-seconds -1", "--checkpoint-seconds -1 must be 0" },
        { "neurons show --layer-pages -3", "--layer-pages -3 must be 0" },
        { "study run --model X --random-weights", "--random-weights runs random weights shaped like GPT-2 small instead of a model" },
        { "plot INPUT", "is an analysis input" },
        { "serve --reports (under a file)", "cannot be written" },
        { "bench --shapes 8x0", "--shapes entry '8x0' is not PROMPTSxTOKENS" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Is_one_line_exit_2_and_writes_nothing(string what, string needle)
    {
        string dir = CliRunner.TempDir(), output = Path.Combine(dir, "out");
        string corpus = Path.Combine(dir, "corpus.txt"), input = Path.Combine(dir, "input.json");
        File.WriteAllText(corpus, "We're helping our friend while they're at home.");
        File.WriteAllText(input, """{ "clean": ["We're helping our friend when they"], "corrupted": "swap_pairs", "answers": [["'re", " are"]] }""");
        string[] args = what switch
        {
            "view neurons --min 5 --max -5" => ["view", "neurons", "-m", NoModel, "-p", "hello", "--neurons", "L0N1", "--min", "5", "--max", "-5", "--out", output],
            "view neurons --max NaN" => ["view", "neurons", "-m", NoModel, "-p", "hello", "--neurons", "L0N1", "--max", "NaN", "--out", output],
            "neurons index --stop-after -1" => ["neurons", "index", "-m", NoModel, "--corpus", corpus, "--out", Path.Combine(output, "n.db"), "--stop-after", "-1"],
            "neurons index --checkpoint-seconds -1" => ["neurons", "index", "-m", NoModel, "--corpus", corpus, "--out", Path.Combine(output, "n.db"), "--checkpoint-seconds", "-1"],
            "neurons show --layer-pages -3" => ["neurons", "show", "L0", "--db", Path.Combine(dir, "n.db"), "--out", output, "--layer-pages", "-3"],
            "study run --model X --random-weights" => ["study", "run", StudyFile(), "--model", NoModel, "--random-weights", "--out", output],
            "plot INPUT" => ["plot", input, "--out", output],
            "serve --reports (under a file)" => ["serve", "-m", NoModel, "--port", "0", "--reports", Path.Combine(input, "reports")],
            "bench --shapes 8x0" => ["bench", "-m", NoModel, "--shapes", "1x8,8x0"],
            _ => throw new ArgumentException(what),
        };
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, needle);
        Assert.DoesNotContain(NoModel + " does not exist", r.Stderr);   // refused before the model was looked for
        Assert.False(Directory.Exists(output), $"{what} left {output} behind");
        Assert.Equal(["corpus.txt", "input.json"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order());
    }

    private static string StudyFile() => Path.Combine(Readme.ReadmeDocument.RepoRoot, "studies", "contractions.json");
}
