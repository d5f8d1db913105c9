using SharpLens.Tests.Support;

namespace SharpLens.Tests.Training;

/// <summary><c>sharplens train</c> as a user runs it: a short run that another command loads, and bad input as one
/// line, exit 2, before any work, nothing written.</summary>
public class TrainCliTests
{
    private const string Config = """{"n_layers": 1, "d_model": 16, "n_heads": 2, "d_vocab": 80, "n_ctx": 16, "act_fn": "gelu_new", "normalization_type": "LN", "positional_embedding_type": "standard"}""";

    private static string ConfigFile(string dir, string json = Config)
    {
        string path = Path.Combine(dir, "cfg.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void AShortRunWritesAModelTheOtherCommandsLoadALogAPlotAndAResumableCheckpoint()
    {
        string dir = CliRunner.TempDir(), output = Path.Combine(dir, "run");
        var r = CliRunner.Run("train", "--task", "induction", "--config", ConfigFile(dir), "--steps", "4", "--seed", "2027", "--out", output,
            "--batch-size", "2", "--eval-every", "2", "--log-every", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var file in new[] { "config.json", "model.safetensors", "train_log.jsonl", "loss.html", "checkpoint/trainer.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(output, "train_log.jsonl")).Length);
        var p = CliRunner.Run("predict", "--model", output, "--tokens", "79,5,6,7,5,6", "--json");
        Assert.True(p.ExitCode == 0, p.Stderr);
        // The run is complete: resuming it trains nothing more and changes nothing.
        var again = CliRunner.Run("train", "--out", output, "--resume");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(output, "train_log.jsonl")).Length);
    }

    public static TheoryData<string, string> Cases() => new()
    {
        { "unknown key", "'n_layer'" },
        { "not divisible", "d_model 10 is not divisible by n_heads 3" },
        { "unsupported", "positional_embedding_type = rotary is not supported by the trainer" },
        { "existing folder", "already exists: pass --resume" },
        { "resume without checkpoint", "no training checkpoint in" },
        { "resume with --task", "leave out --task" },
        { "no task", "give --task" },
        { "config and model", "give either --config" },
        { "negative steps", "--steps -3 must be positive" },
        { "sequence too long", "needs sequences of 40 tokens but the model's n_ctx is 16" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadInputIsOneLineExit2AndWritesNothing(string what, string needle)
    {
        string dir = CliRunner.TempDir(), output = Path.Combine(dir, "run");
        string Cfg(string json) => ConfigFile(dir, json);
        string[] args = what switch
        {
            "unknown key" => ["train", "--task", "induction", "--config", Cfg(Config.Replace("n_layers", "n_layer")), "--out", output],
            "not divisible" => ["train", "--task", "induction", "--config", Cfg(Config.Replace("\"d_model\": 16", "\"d_model\": 10").Replace("\"n_heads\": 2", "\"n_heads\": 3")), "--out", output],
            "unsupported" => ["train", "--task", "induction", "--config", Cfg(Config.Replace("\"standard\"", "\"rotary\"")), "--out", output],
            "existing folder" => ["train", "--task", "induction", "--config", Cfg(Config), "--out", dir],
            "resume without checkpoint" => ["train", "--resume", "--out", dir],
            "resume with --task" => ["train", "--resume", "--task", "induction", "--out", dir],
            "no task" => ["train", "--config", Cfg(Config), "--out", output],
            "config and model" => ["train", "--task", "induction", "--out", output],
            "negative steps" => ["train", "--task", "induction", "--config", Cfg(Config), "--steps", "-3", "--out", output],
            "sequence too long" => ["train", "--task", "induction", "--config", Cfg(Config.Replace("\"d_vocab\": 80", "\"d_vocab\": 200")), "--seq-len", "40", "--out", output],
            _ => throw new ArgumentException(what),
        };
        var before = Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order().ToList();
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, needle);
        Assert.False(Directory.Exists(output), $"{what} left {output} behind");
        Assert.Equal(before, Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order());
    }
}
