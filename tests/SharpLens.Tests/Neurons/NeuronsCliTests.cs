using System.Text.Json.Nodes;
using SharpLens.Neurons;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Neurons;

/// <summary><c>sharplens neurons index|merge|show|search</c> as a user runs them, on a tiny random checkpoint and a corpus made here.</summary>
public class NeuronsCliTests
{
    private static readonly Lazy<(string Model, string Other, string Corpus)> Inputs = new(() =>
    {
        string root = CliRunner.TempDir();
        return (TinyIndexModel.WriteCheckpoint(Path.Combine(root, "model"), seed: 1), TinyIndexModel.WriteCheckpoint(Path.Combine(root, "other"), seed: 2),
            TinyIndexModel.WriteCorpus(Path.Combine(root, "corpus")));
    });

    [Fact]
    public void IndexShowAndSearchWritePagesJsonAndHits()
    {
        var (model, _, corpus) = Inputs.Value;
        string dir = CliRunner.TempDir(), db = Path.Combine(dir, "neurons.db");
        var r = CliRunner.Run("neurons", "index", "--model", model, "--corpus", corpus, "--out", db, "--context", "16", "--top", "4");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("tokens/s", r.Stderr);

        string json = Path.Combine(dir, "n.json"), pages = Path.Combine(dir, "pages");
        r = CliRunner.Run("neurons", "show", "L1N5", "L0", "--db", db, "--out", pages, "--json", json, "--layer-pages", "3");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"wrote 4 neuron pages and 1 layer page into {Path.GetFullPath(pages)}: open L1N5.html", r.Stderr);   // L1N5 and L0's strongest 3
        var record = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("L1N5", record["neuron"]!.GetValue<string>());
        var examples = record["top_examples"]!.AsArray();
        Assert.Equal(4, examples.Count);
        var first = examples[0]!;
        Assert.Equal(first["tokens"]!.AsArray().Count, first["activations"]!.AsArray().Count);
        Assert.Equal(record["statistics"]!["max"]!.GetValue<double>(), first["activation"]!.GetValue<double>(), 5);
        Assert.False(string.IsNullOrEmpty(first["text"]!.GetValue<string>()));
        Assert.Equal(10, record["promotes"]!.AsArray().Count);
        Assert.Equal(10, record["suppresses"]!.AsArray().Count);
        Assert.True(File.Exists(Path.Combine(pages, "L1N5.html")));
        Assert.True(File.Exists(Path.Combine(pages, "L0.html")));
        Assert.Equal(3, Directory.GetFiles(pages, "L0N*.html").Length);
        Assert.Contains("Direct logit effect", File.ReadAllText(Path.Combine(pages, "L1N5.html")));

        // The token the best window of L1N5 peaks on finds L1N5.
        string peak = first["token"]!.GetValue<string>();
        r = CliRunner.Run("neurons", "search", "--db", db, "--token", peak, "--limit", "200", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var hits = JsonNode.Parse(r.Stdout)!.AsArray();
        Assert.True(hits.Any(h => h!["neuron"]!.GetValue<string>() == "L1N5"), $"'{peak}': {r.Stdout}");
        Assert.Contains(hits, h => h!["neuron"]!.GetValue<string>() == "L1N5");
        Assert.All(hits, h => Assert.Equal(peak, h!["token"]!.GetValue<string>()));

        r = CliRunner.Run("neurons", "search", "--db", db, "--prompt", "We're helping our friend while they", "--model", model, "--limit", "5", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var top = JsonNode.Parse(r.Stdout)!.AsArray();
        Assert.Equal(5, top.Count);
        var acts = top.Select(h => h!["activation"]!.GetValue<double>()).ToArray();
        Assert.Equal(acts.OrderByDescending(a => a), acts);

        // The tables label every column they show: --prompt has no per-token example count, --token has one.
        Assert.Equal(["neuron", "activation", "/ corpus max", "token", "position"],
            TableHeader(CliRunner.Run("neurons", "search", "--db", db, "--prompt", "We're helping our friend while they", "--model", model, "--limit", "5")));
        Assert.Equal(["neuron", "activation", "/ corpus max", "token", "position", "top examples on it"],
            TableHeader(CliRunner.Run("neurons", "search", "--db", db, "--token", peak, "--limit", "5")));
    }

    /// <summary>The header cells of the table a command printed (Spectre's box drawing: cells between │).</summary>
    private static string[] TableHeader(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        string header = r.Stdout.Split('\n').First(l => l.Contains("neuron", StringComparison.Ordinal));
        var cells = header.Split('│').Select(c => c.Trim()).ToArray();
        return cells[1..^1];
    }

    [Fact]
    public void A_locked_index_an_incomplete_merge_and_an_impossible_top_are_one_line_errors_that_write_nothing()
    {
        var (model, _, corpus) = Inputs.Value;
        string dir = CliRunner.TempDir(), db = Path.Combine(dir, "n.db");
        string[] Index(string output, params string[] extra) => ["neurons", "index", "--model", model, "--corpus", corpus, "--out", output, "--context", "16", .. extra];

        using (NeuronIndexLock.Acquire(db))   // as a run in another process holds it
        {
            var busy = CliRunner.Run(Index(db));
            Assert.Equal(2, busy.ExitCode);
            CliRunner.AssertOneLineError(busy, $"neuron index {db} is being written by another sharplens run");
        }
        Assert.False(File.Exists(db));

        var r = CliRunner.Run(Index(db, "--top", "2000000000"));
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, "--top 2000000000 would keep");
        Assert.False(File.Exists(db));

        string half = Path.Combine(dir, "half.db"), merged = Path.Combine(dir, "merged.db");
        Assert.Equal(0, CliRunner.Run(Index(half, "--shard", "0/2")).ExitCode);
        r = CliRunner.Run("neurons", "merge", half, "--out", merged);
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, "shard 1/2 of the 2-way split is missing");
        Assert.False(File.Exists(merged));
        Assert.Equal(["half.db"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void InterruptedIndexResumesAndShardsMerge()
    {
        var (model, _, corpus) = Inputs.Value;
        string dir = CliRunner.TempDir(), db = Path.Combine(dir, "resumed.db");
        string[] Index(string output, params string[] extra) => ["neurons", "index", "--model", model, "--corpus", corpus, "--out", output, "--context", "16", "--top", "3", .. extra];
        var r = CliRunner.Run(Index(db, "--stop-after", "3"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("run the same command again to resume", r.Stderr);
        r = CliRunner.Run(Index(db));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("indexed", r.Stderr);

        string a = Path.Combine(dir, "a.db"), b = Path.Combine(dir, "b.db"), merged = Path.Combine(dir, "all.db");
        Assert.Equal(0, CliRunner.Run(Index(a, "--shard", "0/2")).ExitCode);
        Assert.Equal(0, CliRunner.Run(Index(b, "--shard", "1/2")).ExitCode);
        r = CliRunner.Run("neurons", "merge", a, b, "--out", merged);
        Assert.True(r.ExitCode == 0, r.Stderr);
        NeuronIndexCorrectnessTests.AssertSameTables(db, merged);
    }

    [Fact]
    public void BadInputsAreOneLineErrorsBeforeAnyWork()
    {
        var (model, other, corpus) = Inputs.Value;
        string dir = CliRunner.TempDir(), db = Path.Combine(dir, "n.db");
        string Write(string name, string text) { var p = Path.Combine(dir, name); File.WriteAllText(p, text); return p; }
        string binary = Path.Combine(dir, "blob.txt");
        File.WriteAllBytes(binary, [0x50, 0x4B, 0x03, 0x04, 0x00, 0xFF, 0x10]);
        string[] Index(string c, string output) => ["neurons", "index", "--model", model, "--corpus", c, "--out", output, "--context", "16"];

        CliRunner.AssertOneLineError(CliRunner.Run(Index(Write("empty.txt", ""), db)), "is empty");
        CliRunner.AssertOneLineError(CliRunner.Run(Index(binary, db)), "binary");
        CliRunner.AssertOneLineError(CliRunner.Run(Index(Write("bad.jsonl", "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n"), db)), "line 2 has no \"text\"");
        CliRunner.AssertOneLineError(CliRunner.Run(Index(corpus, Path.Combine(Write("plain-file", "x"), "n.db"))), "is a file, not a folder");
        CliRunner.AssertOneLineError(CliRunner.Run(Index(corpus, Write("not-an-index.db", "hello"))), "not a SharpLens neuron index");
        Assert.False(File.Exists(db));

        Assert.Equal(0, CliRunner.Run(Index(corpus, db)).ExitCode);
        CliRunner.AssertOneLineError(CliRunner.Run("neurons", "show", "L1N24", "--db", db, "--json", Path.Combine(dir, "x.json")), "layer 1 has neurons 0..23");
        CliRunner.AssertOneLineError(CliRunner.Run("neurons", "show", "L7N1", "--db", db, "--json", Path.Combine(dir, "x.json")), "holds layers 0, 1");
        Assert.False(File.Exists(Path.Combine(dir, "x.json")));
        CliRunner.AssertOneLineError(CliRunner.Run("neurons", "search", "--db", db, "--prompt", "hello there", "--model", other), "was built for model");
        // Resuming into an index of another model is refused too.
        CliRunner.AssertOneLineError(CliRunner.Run("neurons", "index", "--model", other, "--corpus", corpus, "--out", db, "--context", "16"), "was started with model");
        CliRunner.AssertOneLineError(CliRunner.Run("neurons", "show", "L0N1", "--db", Path.Combine(dir, "nope.db"), "--out", dir), "does not exist");
    }
}
