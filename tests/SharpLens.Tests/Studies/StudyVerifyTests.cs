using System.Text.Json.Nodes;
using SharpLens.Studies;
using SharpLens.Studies.Verify;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Studies;

/// <summary>
/// `study verify` on results built from the notebook's own values (no model): they pass, and each kind of damage a wrong
/// run could show fails with a message naming the figure and the cell.
/// </summary>
public class StudyVerifyTests
{
    private static readonly JsonObject Reference = ReferenceResults.Reference;

    private static StudyResults Perfect() => ReferenceResults.Build(Reference);

    /// <summary>Verifies the results as saved and reloaded (numbers read back from JSON text, as verify sees a results.json).</summary>
    private static IReadOnlyList<VerifyCheck> Verify(StudyResults results, VerifyTolerance? tolerance = null) =>
        StudyVerify.Compare(new StudyResults(JsonNode.Parse(results.Root.ToJsonString())!.AsObject()), Reference, tolerance);

    private static VerifyCheck Line(IReadOnlyList<VerifyCheck> checks, string group, string title) =>
        checks.Single(c => c.Group == group && c.Title == title);

    /// <summary>Sets the grid value at (row, col) of group/path.</summary>
    private static void SetCell(StudyResults results, string group, string path, int row, int col, double value) =>
        results.Get(group, path)!["grid"]!["values"]![row]![col] = value;

    private static double Cell(StudyResults results, string group, string path, int row, int col) =>
        double.Parse(results.Get(group, path)!["grid"]!["values"]![row]![col]!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void ReferenceValuesPassEveryCheckAndEveryClaimHolds()
    {
        var checks = Verify(Perfect());
        Assert.All(checks, c => Assert.False(c.Failed(), $"{c.Group} {c.Title}: {c.Status}; {c.Detail}"));
        Assert.DoesNotContain(checks, c => c.Status is "missing" or "no mapping");
        // 55 figures, 8 groups, the printed numbers, 15 claims: nothing silently skipped.
        Assert.Equal(55, checks.Count(c => c.Source.Length > 0 && !c.Source.StartsWith("claim:") && c.Title.StartsWith("Logit Difference") | c.Title.StartsWith("Scatter")));
        Assert.Equal(8, checks.Count(c => c.Title == "prompts and answers" && c.Status == "ok"));
        Assert.Equal(15, checks.Count(c => c.Status == "held"));
        foreach (var printed in new[] { "exp1_tokens", "exp1_str_tokens_prompt0", "exp1_logit_diff_per_prompt", "exp1_logit_diff_mean", "exp1_corrupted_logit_diff_mean",
                     "exp1_dla_reconstructed_mean", "exp1_top3_head_dla", "exp2_logit_diff_per_prompt", "exp2_logit_diff_mean", "exp2_top3_head_dla", "neuron_activations" })
            Assert.Contains(checks, c => c.Title.Contains($"(printed: {printed})") && c.Status == "ok");
        Assert.Equal(3, checks.Count(c => c.Title.Contains("(printed: neuron_activations)")));
        Assert.Equal(4, checks.Count(c => c.Title.StartsWith("test_prompt") && c.Status == "ok"));
    }

    [Fact]
    public void ZeroedHeadPatternGridFailsAtItsLargestCell()
    {
        var results = Perfect();
        var values = (JsonArray)results.Get("re_they", "patching/head_pattern")!["grid"]!["values"]!;
        foreach (var row in values) for (int c = 0; c < 12; c++) row![c] = 0.0;
        var line = Line(Verify(results), "re_they", "Logit Difference From Patched Head Pattern");
        Assert.Equal("exceeds", line.Status);
        Assert.Equal("layer 0, head 8", line.Cell); // the notebook's largest |pattern| score, -0.0106
        Assert.Contains("layer 0, head 8", line.Detail);
        Assert.Equal("exceeds", Line(Verify(results), "re_they", "Scatter plot of output patching vs attention patching").Status);
    }

    [Fact]
    public void PatternScoreRaisedForL7H11FailsTheFigureAndFlipsTheValueClaimWhenLarger()
    {
        var results = Perfect();
        SetCell(results, "re_they", "patching/head_pattern", 7, 11, 0.045); // the audit's damage: 0.0003 -> 0.045
        var line = Line(Verify(results), "re_they", "Logit Difference From Patched Head Pattern");
        Assert.Equal("exceeds", line.Status);
        Assert.Equal("layer 7, head 11", line.Cell);

        SetCell(results, "re_they", "patching/head_pattern", 7, 11, 0.3); // now more than L7H11's value score (0.286)
        var checks = Verify(results);
        var claim = checks.Single(c => c.Source == "claim:value_over_pattern");
        Assert.Equal("not held", claim.Status);
        Assert.Contains("L7H11: value 0.285884, pattern 0.3", claim.Detail);
        Assert.True(claim.Failed(allowMissing: true));
    }

    [Fact]
    public void SmallShiftsAcrossLayer8NeuronsFailExceptWhereUntouched()
    {
        var results = Perfect();
        var row = (JsonArray)results.Get("re_they", "neuron_patching")!["grid"]!["values"]![0]!;
        for (int n = 0; n < row.Count; n++)
            if (n != 2744) row[n] = row[n]!.GetValue<double>() + (n % 2 == 0 ? 0.04 : -0.04);
        var checks = Verify(results);
        var line = Line(checks, "re_they", "Logit Difference From Patched Neurons in MLP Layer 8");
        Assert.Equal("exceeds", line.Status);
        Assert.StartsWith("neuron ", line.Cell);
        Assert.NotEqual("neuron 2744", line.Cell);
        Assert.Equal("ok", Line(checks, "re_they", "Logit Difference From Patched Neurons in MLP Layer 10").Status);
        Assert.Equal("held", checks.Single(c => c.Source == "claim:top_neurons").Status); // a claim is judged on its own criterion
    }

    [Fact]
    public void SwappedHeadValuesFailAtOneOfTheSwappedCells()
    {
        var results = Perfect();
        double l7h11 = Cell(results, "re_they", "head_attribution", 7, 11), l8h2 = Cell(results, "re_they", "head_attribution", 8, 2);
        SetCell(results, "re_they", "head_attribution", 7, 11, l8h2);
        SetCell(results, "re_they", "head_attribution", 8, 2, l7h11);
        var checks = Verify(results);
        var line = Line(checks, "re_they", "Logit Difference From Each Head");
        Assert.Equal("exceeds", line.Status);
        Assert.Contains(line.Cell, new[] { "layer 7, head 11", "layer 8, head 2" });
        var claim = checks.Single(c => c.Group == "re_they" && c.Source == "claim:top_positive_head");
        Assert.Equal("not held", claim.Status);
        Assert.Contains("1. L8H2 0.4068", claim.Detail);
    }

    [Fact]
    public void ChangingOneComponentFlipsTheDecompositionClaimAndNamesTheComponent()
    {
        var results = Perfect();
        var values = (JsonArray)results.Get("re_they", "layer_attribution")!["grid"]!["values"]![0]!;
        values[23] = 0.5; // 10_mlp_out 0.352 -> 0.5 keeps the top three; 8_attn_out (0.187) -> 0.5 replaces 10_mlp_out
        values[18] = 0.5;
        var checks = Verify(results);
        var line = Line(checks, "re_they", "Logit Difference From Each Layer");
        Assert.Equal("exceeds", line.Status);
        Assert.Equal("component 8_attn_out", line.Cell);
        Assert.Equal("not held", checks.Single(c => c.Source == "claim:top_components").Status);
    }

    [Fact]
    public void MissingGroupFailsByDefaultAndIsAllowedOnlyWhenAsked()
    {
        var results = Perfect();
        results.Groups.Remove("s_we");
        var checks = Verify(results);
        var missing = checks.Where(c => c.Group == "s_we").ToList();
        Assert.Contains(missing, c => c.Title == "prompts and answers" && c.Status == "missing");
        Assert.Contains(missing, c => c.Title == "Logit Difference From Each Head" && c.Status == "missing" && c.Detail.Contains("'s_we' is not in the results"));
        Assert.All(missing, c => Assert.True(c.Failed()));
        Assert.All(missing, c => Assert.False(c.Failed(allowMissing: true)));
    }

    [Fact]
    public void MissingFigureFailsByDefault()
    {
        var results = Perfect();
        ((JsonObject)results.Get("re_they", "patching")!).Remove("head_v");
        var line = Line(Verify(results), "re_they", "Logit Difference From Patched Head Value");
        Assert.Equal("missing", line.Status);
        Assert.True(line.Failed());
    }

    [Fact]
    public void GroupWithOtherPromptsFailsAsStructure()
    {
        var results = Perfect();
        results.Get("re_she", "info")!["prompts"]![1] = "We are helping our friend when he";
        var line = Line(Verify(results), "re_she", "prompts and answers");
        Assert.Equal("structure", line.Status);
        Assert.Contains("prompt 1", line.Detail);
    }

    [Fact]
    public void RelabelledComponentAxisFailsBeforeValues()
    {
        var results = Perfect();
        results.Get("re_they", "layer_attribution")!["grid"]!["cols"]![16] = "7_mlp_out";
        var line = Line(Verify(results), "re_they", "Logit Difference From Each Layer");
        Assert.Equal("structure", line.Status);
        Assert.Contains("component label 16 is \"7_mlp_out\" here, \"7_attn_out\" in the reference", line.Detail);
    }

    [Fact]
    public void TransposedOrReshapedGridFailsAsStructure()
    {
        var results = Perfect();
        var grid = results.Get("re_they", "patching/resid_pre")!["grid"]!;
        // 12 layers x 8 positions stored as 8 x 12: same number of values, different shape.
        var values = (JsonArray)grid["values"]!;
        var transposed = new JsonArray(Enumerable.Range(0, 8).Select(c => (JsonNode?)new JsonArray(Enumerable.Range(0, 12).Select(r => (JsonNode?)values[r]![c]!.GetValue<double>()).ToArray())).ToArray());
        var cols = grid["cols"]!.DeepClone();
        grid["values"] = transposed; grid["rows"] = cols; grid["cols"] = new JsonArray(Enumerable.Range(0, 12).Select(i => (JsonNode?)i.ToString()).ToArray());
        var line = Line(Verify(results), "re_they", "Logit Difference From Patched Residual Stream");
        Assert.Equal("structure", line.Status);
        Assert.Contains("shape [8 x 12] here, [12 x 8] in the reference", line.Detail);
    }

    [Fact]
    public void WrongTokenPositionsFailByName()
    {
        var results = Perfect();
        // Position labels shifted by one (a run without BOS would label its columns this way).
        var cols = (JsonArray)results.Get("re_they", "patching/attn_out")!["grid"]!["cols"]!;
        string[] shifted = ["We_0", "'re_1", " helping_2", " our_3", " friend_4", " when_5", " they_6", "<pad>_7"];
        for (int i = 0; i < 8; i++) cols[i] = shifted[i];
        var checks = Verify(results);
        var line = Line(checks, "re_they", "Logit Difference From Patched Attention Layer");
        Assert.Equal("structure", line.Status);
        Assert.Contains("position label 0 is \"We_0\" here, \"<|endoftext|>_0\" in the reference", line.Detail);

        // A neuron's activations one position late: values compared per token, the worst one named.
        var acts = (JsonArray)results.Get("re_they", StudyNamedNeurons.Path)!["neurons"]![0]!["activations"]![0]!;
        var shiftedActs = new JsonArray(acts.Select((_, i) => (JsonNode?)(i == 0 ? 0.0 : acts[i - 1]!.GetValue<double>())).ToArray());
        results.Get("re_they", StudyNamedNeurons.Path)!["neurons"]![0]!["activations"]![0] = shiftedActs;
        var neuron = checks = Verify(results);
        var l8 = checks.Single(c => c.Title.StartsWith("L8N2744 activation"));
        Assert.Equal("exceeds", l8.Status);
        Assert.Equal("token  they", l8.Cell); // 0.0798 here instead of 1.9648
    }

    [Fact]
    public void PrintedNumbersAreEachCompared()
    {
        var results = Perfect();
        results.Get("re_they", "model_check")!["predictions"]![3]!["tokens"]![2] = 821; // " are" -> "'re"
        results.Get("s_they", "model_check")!["clean_per_prompt"]![5] = 1.2;
        results.Get("re_they", StudyTestPrompts.Path)![0]!["answer"]!["rank"] = 498;
        results.Get("re_they", StudyTestPrompts.Path)![0]!["top_k"]![1]!["token"] = " wait";
        results.Get("re_they", "info")!["str_tokens"]![0]![2] = " 're";
        var checks = Verify(results);
        var ids = checks.Single(c => c.Title.Contains("(printed: exp1_tokens)"));
        Assert.Equal("exceeds", ids.Status);
        Assert.Equal("prompt 3, position 2", ids.Cell);
        var exp2 = Line(checks, "s_they", "clean logit difference per prompt (printed: exp2_logit_diff_per_prompt)");
        Assert.Equal("prompt 5", exp2.Cell);
        Assert.Equal("exceeds", checks.Single(c => c.Title.EndsWith("answer rank")).Status);
        var str = checks.Single(c => c.Title.Contains("(printed: exp1_str_tokens_prompt0)"));
        Assert.Equal("structure", str.Status);
        Assert.Contains("token label 2 is \" 're\" here, \"'re\" in the reference", str.Detail);
        var top = checks.Single(c => c.Title.EndsWith("top-10 tokens"));
        Assert.Equal("structure", top.Status);
        Assert.Contains("rank label 1 is \" wait\" here, \" watch\" in the reference", top.Detail);
    }

    [Fact]
    public void NotANumberFailsEvenWhenTheReferenceIsTiny()
    {
        var results = Perfect();
        SetCell(results, "re_they", "patching/head_v", 0, 0, 0);
        results.Get("re_they", "patching/head_v")!["grid"]!["values"]![0]![0] = "NaN";
        var line = Line(Verify(results), "re_they", "Logit Difference From Patched Head Value");
        Assert.Equal("exceeds", line.Status);
        Assert.Contains("not a number", line.Detail);
    }

    [Fact]
    public void ToleranceIsOnTheFiguresOwnScale()
    {
        // Patching scores reach 1.0 (resid_pre), so 1e-3 + 1e-3·1 is allowed; head DLA reaches 0.41, so less.
        var results = Perfect();
        SetCell(results, "re_they", "patching/resid_pre", 5, 7, Cell(results, "re_they", "patching/resid_pre", 5, 7) + 0.0018);
        SetCell(results, "re_they", "head_attribution", 5, 7, Cell(results, "re_they", "head_attribution", 5, 7) + 0.0018);
        var checks = Verify(results);
        Assert.Equal("ok", Line(checks, "re_they", "Logit Difference From Patched Residual Stream").Status);
        var heads = Line(checks, "re_they", "Logit Difference From Each Head");
        Assert.Equal("exceeds", heads.Status);
        Assert.Equal(1e-3 + 1e-3 * 0.4068, heads.Allowed!.Value, 4);
        // A looser tolerance is a deliberate, visible choice.
        Assert.Equal("ok", Line(Verify(results, new VerifyTolerance(0.01, 0, "test")), "re_they", "Logit Difference From Each Head").Status);
    }

    [Fact]
    public void EveryPromptMustPreferTheRightForm()
    {
        var results = Perfect();
        results.Get("re_they", "model_check")!["clean_per_prompt"]![3] = -0.2; // the mean stays positive
        var claim = Verify(results).Single(c => c.Source == "claim:clean_logit_diff_positive");
        Assert.Equal("not held", claim.Status);
        Assert.Contains("7 of 8 positive; smallest -0.2 (prompt 3)", claim.Detail);
    }

    [Fact]
    public void Experiment2HeadRanksAreClaims()
    {
        var results = Perfect();
        // Make L9H11 (0.0513) pass L11H8 (0.0793) for 's we.
        SetCell(results, "s_we", "head_attribution", 9, 11, 0.09);
        var claim = Verify(results).Single(c => c.Group == "s_we" && c.Source == "claim:head_rank");
        Assert.Equal("not held", claim.Status);
        Assert.Contains("L11H8 is number 4", claim.Detail);
    }

    [Fact]
    public void CommandLinePassesTheReferenceAndNamesFigureAndCellOfADamagedRun()
    {
        string dir = CliRunner.TempDir();
        try
        {
            string refPath = Path.Combine(AppContext.BaseDirectory, "fixtures", "reference", "contraction-notebook.json");
            var results = Perfect();
            results.Save(Path.Combine(dir, "results.json"));
            var ok = CliRunner.Run("study", "verify", dir, "--reference", refPath);
            Assert.Equal(0, ok.ExitCode);
            Assert.Contains(": passed", ok.Stdout);

            SetCell(results, "re_they", "patching/head_pattern", 7, 11, 0.045);
            results.Save(Path.Combine(dir, "results.json"));
            var bad = CliRunner.Run("study", "verify", dir, "--reference", refPath);
            Assert.Equal(1, bad.ExitCode);
            var line = bad.Stdout.Split('\n').Single(l => l.StartsWith("FAIL") && l.Contains("Logit Difference From Patched Head Pattern"));
            Assert.Contains("worst layer 7, head 11: 0.045 here, 0.000325 in the reference", line);
            Assert.Contains("FAILED", bad.Stdout);
            var json = JsonNode.Parse(CliRunner.Run("study", "verify", dir, "--reference", refPath, "--json").Stdout)!;
            Assert.False(json["passed"]!.GetValue<bool>());
            Assert.Contains(((JsonArray)json["checks"]!), c => c!["failed"]!.GetValue<bool>() && c["cell"]?.ToString() == "layer 7, head 11");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ReferenceWrittenFromAPerfectRunMatchesTheNotebooksFormat()
    {
        var results = Perfect();
        var written = StudyVerify.ToReference(results);
        var printed = (JsonObject)written["notebook_printed"]!;
        Assert.Equal(((JsonObject)Reference["notebook_printed"]!).Select(kv => kv.Key).Order(), printed.Select(kv => kv.Key).Order());
        Assert.Equal(Reference["figures"]!.AsArray().Count, written["figures"]!.AsArray().Count);
        var checks = StudyVerify.Compare(new StudyResults(JsonNode.Parse(results.Root.ToJsonString())!.AsObject()), written);
        Assert.All(checks, c => Assert.False(c.Failed(), $"{c.Group} {c.Title}: {c.Status}; {c.Detail}"));
        Assert.Equal(checks.Count, Verify(results).Count);
    }

    [Fact]
    public void NonFiniteValuesNeverEnterResults()
    {
        var e = Assert.Throws<SharpLensException>(() => FiniteJson.Array([1f, float.NaN], "re_they: clean logit difference per prompt"));
        Assert.Contains("re_they: clean logit difference per prompt: value 1 is NaN", e.Message);
        Assert.Equal("a/grid/values[0][1]", FiniteJson.FirstNonFinite(JsonNode.Parse("""{"a": {"grid": {"values": [[1, "NaN"]]}, "tokens": ["NaN"]}}""")));
        Assert.Null(FiniteJson.FirstNonFinite(JsonNode.Parse("""{"tokens": ["NaN"], "values": [[1, 2]]}""")));
    }
}
