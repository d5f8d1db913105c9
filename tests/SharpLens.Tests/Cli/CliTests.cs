using System.Text.Json.Nodes;
using SharpLens.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>The commands as a new user meets them: outputs, exit codes and one-line errors, with no half-written files.</summary>
public class CliTests
{
    private static readonly string Tiny = Fixtures.Folder("tiny-b");

    private static string InputFile(string dir, Func<Fixtures.TokenSet, object>? shape = null)
    {
        var t = Fixtures.Tokens("tiny-b");
        var obj = shape?.Invoke(t) ?? new { clean = t.Clean, corrupted = t.Corrupted, answers = t.Answers };
        string path = Path.Combine(dir, "input.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(obj));
        return path;
    }

    [Fact]
    public void PredictJsonHasTokensTopKAndAnswer()
    {
        var r = CliRunner.Run("predict", "--model", Tiny, "--tokens", "119,3,4", "--top-k", "5", "--json");
        Assert.Equal(0, r.ExitCode);
        var json = JsonNode.Parse(r.Stdout)!;
        Assert.Equal([119, 3, 4], json["tokens"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(5, json["top_k"]!.AsArray().Count);
        var probs = json["top_k"]!.AsArray().Select(n => n!["prob"]!.GetValue<float>()).ToArray();
        Assert.True(probs.SequenceEqual(probs.OrderByDescending(p => p)));
    }

    [Fact]
    public void MissingModelIsOneLineError() =>
        CliRunner.AssertOneLineError(CliRunner.Run("predict", "--model", "/no/such/model", "--tokens", "1,2"), "/no/such/model");

    [Fact]
    public void TruncatedCheckpointIsOneLineError()
    {
        string dir = CliRunner.TempDir();
        File.Copy(Path.Combine(Tiny, "config.json"), Path.Combine(dir, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(Tiny, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), bytes[..(bytes.Length / 2)]);
        CliRunner.AssertOneLineError(CliRunner.Run("predict", "--model", dir, "--tokens", "1,2"), "model.safetensors");
    }

    [Fact]
    public void ActivationsWritesHookNamedTensors()
    {
        string dir = CliRunner.TempDir(), tokens = Path.Combine(dir, "tokens.json"), output = Path.Combine(dir, "acts.safetensors");
        File.WriteAllText(tokens, "[[119, 5, 6, 7], [119, 8]]");
        var r = CliRunner.Run("activations", "--model", Tiny, "--tokens-file", tokens, "--hooks", "blocks.1.attn.hook_z,blocks.2.mlp.hook_post", "--out", output);
        Assert.Equal(0, r.ExitCode);
        using var file = SafetensorsFile.Open(output);
        Assert.Equal([2, 4, 3, 16], file.GetShape("blocks.1.attn.hook_z"));
        Assert.Equal([2, 4, 192], file.GetShape("blocks.2.mlp.hook_post"));
    }

    [Fact]
    public void UnknownHookNameFailsWithoutWritingOutput()
    {
        string dir = CliRunner.TempDir(), output = Path.Combine(dir, "acts.safetensors");
        File.WriteAllText(Path.Combine(dir, "t.json"), "[[119, 5]]");
        var r = CliRunner.Run("activations", "--model", Tiny, "--tokens-file", Path.Combine(dir, "t.json"), "--hooks", "blocks.1.hook_resid_mdi", "--out", output);
        CliRunner.AssertOneLineError(r, "blocks.1.hook_resid_mid");
        Assert.Empty(Directory.GetFiles(dir, "acts*"));
    }

    [Fact]
    public void PromptLongerThanContextIsOneLineError()
    {
        string ids = string.Join(",", Enumerable.Range(0, 30).Select(i => i % 100));
        CliRunner.AssertOneLineError(CliRunner.Run("predict", "--model", Tiny, "--tokens", ids), "context");
    }

    [Fact]
    public void PatchAndAttributeWriteResultsInTheDocumentedFormat()
    {
        string dir = CliRunner.TempDir(), input = InputFile(dir), patch = Path.Combine(dir, "patch.json"), attr = Path.Combine(dir, "attr.json");
        var r = CliRunner.Run("patch", "--model", Tiny, "--input", input, "--what", "resid_pre,head_v,neurons", "--neuron-layers", "0,2", "--json", patch);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonNode.Parse(File.ReadAllText(patch))!;
        foreach (var key in new[] { "resid_pre", "head_v", "neurons_L0", "neurons_L2" })
        {
            Assert.NotNull(json[key]!["values"]);
            Assert.NotNull(json[key]!["per_prompt"]);
        }
        Assert.Equal(3, json["resid_pre"]!["rows"]!.AsArray().Count);
        Assert.Equal(7, json["resid_pre"]!["cols"]!.AsArray().Count);
        Assert.Equal(192, json["neurons_L2"]!["cols"]!.AsArray().Count);
        Assert.NotNull(json["clean_logit_diff"]);

        r = CliRunner.Run("attribute", "--model", Tiny, "--input", input, "--json", attr);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var dla = JsonNode.Parse(File.ReadAllText(attr))!;
        Assert.Equal(3, dla["heads"]!["rows"]!.AsArray().Count);
        Assert.Equal(json["clean_logit_diff"]!.GetValue<float>(), dla["clean_logit_diff"]!.GetValue<float>(), 4);
    }

    /// <summary>Two prompt pairs of lengths 7 and 5 that differ at position 2 and end on the same tokens.</summary>
    private static string RaggedInput(string dir)
    {
        string input = Path.Combine(dir, "ragged.json");
        File.WriteAllText(input, """
            {"clean": [[119, 5, 6, 7, 8, 9, 10], [119, 11, 12, 13, 14]],
             "corrupted": [[119, 5, 16, 7, 8, 9, 10], [119, 11, 22, 13, 14]],
             "answers": [[30, 31], [31, 30]]}
            """);
        return input;
    }

    [Fact]
    public void PatchAlignsPromptsOfDifferentLengthsOnTheirFinalToken()
    {
        string dir = CliRunner.TempDir(), input = RaggedInput(dir), output = Path.Combine(dir, "out.json");
        var r = CliRunner.Run("patch", "--model", Tiny, "--input", input, "--what", "resid_pre", "--align", "end", "--json", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var grid = JsonNode.Parse(File.ReadAllText(output))!["resid_pre"]!;
        Assert.Equal(["6_-5", "7_-4", "8_-3", "9_-2", "10_-1"], grid["cols"]!.AsArray().Select(c => c!.GetValue<string>()));
        // Both prompts end on identical tokens, so patching layer 0's residual there changes nothing.
        Assert.Equal(0, grid["values"]![0]![4]!.GetValue<float>(), 5);
    }

    [Fact]
    public void AttributionPatchingAlignsOnTheFinalTokenAndUnknownSweepNamesAreOneLineErrors()
    {
        string dir = CliRunner.TempDir(), input = RaggedInput(dir), output = Path.Combine(dir, "attr.json");
        CliRunner.AssertOneLineError(CliRunner.Run("patch", "--model", Tiny, "--input", input, "--what", "resid_pre,head_value", "--json", output),
            "unknown --what 'head_value'");
        Assert.False(File.Exists(output));
        var r = CliRunner.Run("patch", "--model", Tiny, "--input", input, "--what", "resid_pre,head_v", "--align", "end",
            "--method", "attribution", "--direction", "noise", "--compare-exact", "--json", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonNode.Parse(File.ReadAllText(output))!;
        Assert.Equal(["6_-5", "7_-4", "8_-3", "9_-2", "10_-1"], json["resid_pre"]!["cols"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.NotNull(json["head_v"]);
        Assert.Null(json["head_value"]);
        // --compare-exact ran exact patching over the same sweeps: same labels, so every cell was compared.
        Assert.Equal(15, json["agreement"]!["resid_pre"]!["cells"]!.GetValue<int>());
        Assert.Equal(9, json["agreement"]!["head_v"]!["cells"]!.GetValue<int>());
    }

    [Fact]
    public void ViewWritesAttentionAndNeuronFigures()
    {
        string dir = CliRunner.TempDir(), tokens = Path.Combine(dir, "t.json");
        var r = CliRunner.Run("view", "attention", "--model", Tiny, "--tokens", "119,5,6,7", "--heads", "0.1,L2H2", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "attention.json")))!.ToJsonString();
        Assert.Contains("L2H2", json);
        File.WriteAllText(tokens, "[[119, 5, 6], [119, 8, 9, 10]]");
        r = CliRunner.Run("view", "neurons", "--model", Tiny, "--tokens-file", tokens, "--neurons", "L1N3,L2N190", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(dir, "neurons.html")));
        CliRunner.AssertOneLineError(CliRunner.Run("view", "attention", "--model", Tiny, "--tokens", "119,5", "--heads", "3.0", "--out", dir), "head L3H0 does not exist");
        CliRunner.AssertOneLineError(CliRunner.Run("view", "neurons", "--model", Tiny, "--tokens-file", tokens, "--neurons", "L1N999", "--out", dir), "L1N999");
    }

    [Fact]
    public void AttributionPatchingReportsAgreementWithExactPatching()
    {
        string dir = CliRunner.TempDir(), input = InputFile(dir), output = Path.Combine(dir, "agree.json");
        var r = CliRunner.Run("patch", "--model", Tiny, "--input", input, "--what", "head_out,neurons", "--neuron-layers", "2",
            "--method", "attribution", "--compare-exact", "--json", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var agreement = JsonNode.Parse(File.ReadAllText(output))!["agreement"]!;
        // A single neuron of the last layer acts almost linearly on the logits: the estimate must nearly equal exact patching.
        Assert.True(agreement["neurons_L2"]!["pearson"]!.GetValue<double>() > 0.99);
        Assert.Equal(9, agreement["head_out"]!["cells"]!.GetValue<int>());
        CliRunner.AssertOneLineError(CliRunner.Run("patch", "--model", Tiny, "--input", input, "--compare-exact", "--json", output), "--method attribution");
    }

    [Fact]
    public void PatchRejectsMisalignedPrompts()
    {
        string dir = CliRunner.TempDir();
        string input = InputFile(dir, t => new { clean = t.Clean, corrupted = t.Corrupted.Select(c => c[..^1]).ToArray(), answers = t.Answers });
        var r = CliRunner.Run("patch", "--model", Tiny, "--input", input, "--json", Path.Combine(dir, "out.json"));
        CliRunner.AssertOneLineError(r, "corrupted");
        Assert.False(File.Exists(Path.Combine(dir, "out.json")));
    }

    [Fact]
    public void MultiTokenAnswerIsOneLineError()
    {
        string dir = CliRunner.TempDir(), input = Path.Combine(dir, "in.json");
        File.WriteAllText(input, """{"clean": ["We're here", "We are here"], "corrupted": "swap_pairs", "answers": [[" 're", " are"], [" are", "'re"]]}""");
        CliRunner.AssertOneLineError(CliRunner.Run("attribute", "--model", "/tmp/gpt2-that-does-not-exist", "--input", input, "--json", Path.Combine(dir, "o.json")), "does not exist");
    }
}

public class CompareCliTests
{
    [Fact]
    public void CompareFindsAPlantedDifferenceAndNamesMissingKeys()
    {
        string dir = CliRunner.TempDir();
        string Write(string name, float shift)
        {
            var random = new Random(name.Length);
            var perPrompt = new float[8 * 1 * 3];
            for (int p = 0; p < 8; p++)
                for (int c = 0; c < 3; c++) perPrompt[p * 3 + c] = (float)random.NextDouble() * 0.1f + (c == 1 ? shift : 0);
            var grid = SharpLens.Analysis.Grid.FromPerPrompt(new SharpLens.Tensors.Tensor(perPrompt, 8, 1, 3), ["0"], ["a", "b", "c"]);
            string path = Path.Combine(dir, name);
            File.WriteAllText(path, new JsonObject { ["heads"] = grid.ToJson() }.ToJsonString());
            return path;
        }
        string a = Write("a.json", 0), b = Write("bb.json", 1), output = Path.Combine(dir, "cmp.json");
        var r = CliRunner.Run("compare", a, b, "--key", "heads", "--json", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var cells = JsonNode.Parse(File.ReadAllText(output))!["cells"]!.AsArray();
        Assert.Equal("b", cells[0]!["col"]!.GetValue<string>());
        Assert.True(cells[0]!["significant"]!.GetValue<bool>());
        Assert.Single(cells, c => c!["significant"]!.GetValue<bool>());
        CliRunner.AssertOneLineError(CliRunner.Run("compare", a, b, "--key", "layers"), "heads");
    }
}
