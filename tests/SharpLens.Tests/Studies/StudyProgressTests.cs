using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Studies;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Studies;

/// <summary>
/// A study's progress counts estimated work (<see cref="StudyWork"/>), not steps: a run reports a bar that only moves
/// forward and ends full, the circuits section advances through its phases, and on the shipped study the circuits
/// section and the neuron patching weigh what they cost rather than one step of 66 each (the circuits once sat at
/// "98-99%" for four of ten minutes).
/// </summary>
[Collection("study-cli")]
public class StudyProgressTests
{
    private const string CircuitsBlock = """
      "circuits": { "groups": ["a", "b"], "edges": 20, "curve": [5, 10, 40], "resamples": 200, "steps": 3,
                    "receivers": ["a2.h1<v>", "a2.h1<q>"], "ov_head": "2.1", "ov_tokens": [30, 31],
                    "bigram_sources": [5, 9], "bigram_answers": [30, 31] },
    """;

    private sealed class Collect(List<StudyProgress> reports) : IProgress<StudyProgress>
    {
        public void Report(StudyProgress value) => reports.Add(value);
    }

    [Fact]
    public void A_run_reports_work_done_that_only_grows_and_ends_at_the_total()
    {
        string dir = CliRunner.TempDir();
        var study = StudyFile.ParseJson(StudyFileTests.TinyJson.Replace("\"groups\": {", CircuitsBlock + "\n  \"groups\": {"));
        var reports = new List<StudyProgress>();
        var runner = new StudyRunner(Fixtures.Load("tiny-b", processed: true), study,
            new StudyRunOptions { OutDir = dir, WriteReport = false, Progress = new Collect(reports) });
        var planned = runner.PlannedWork();
        runner.Run();

        double total = planned.Sum(p => p.Work);
        Assert.All(reports, r => Assert.Equal(total, r.Total, 6));
        Assert.All(reports, r => Assert.Equal(planned.Count, r.Steps));
        for (int i = 1; i < reports.Count; i++) Assert.True(reports[i].Done >= reports[i - 1].Done - 1e-9, $"report {i} went back: {reports[i - 1]} -> {reports[i]}");
        Assert.Equal(total, reports[^1].Done, 6);
        Assert.Equal(planned.Select(p => p.Name), reports.Select(r => r.Name).Distinct());
        // Each step's share of the bar is its estimate: it starts where the steps before it end.
        var circuits = reports.Where(r => r.Name == CircuitsSection.Key).ToList();
        Assert.Equal(total - planned[^1].Work, circuits[0].Done, 6);
        Assert.True(circuits.Select(r => r.Done).Distinct().Count() >= 4, "the circuits section advanced in fewer than four steps");
    }

    [Fact]
    public void On_the_shipped_study_the_circuits_and_the_neuron_patching_weigh_what_they_cost()
    {
        // The estimates depend on the model's layers, heads, neurons and the prompts, not on d_model: GPT-2 small's shape
        // with a narrow residual stream stands in for it.
        var model = RandomWeights.CreateModel(RandomGpt2Checkpoint.Config, tokenizer: new Gpt2Tokenizer());
        var study = StudyFile.Load(Path.Combine(Readme.ReadmeDocument.RepoRoot, "studies", "contractions.json"));
        var planned = new StudyRunner(model, study, new StudyRunOptions { OutDir = CliRunner.TempDir(), WriteReport = false }).PlannedWork();
        double total = planned.Sum(p => p.Work);
        double Share(string name) => planned.Single(p => p.Name == name).Work / total;

        Assert.Equal(66, planned.Count);
        // Counted as one step of 66 it was 1.5% of the bar; it is a third or so of the work (measured: about 4 of 10 minutes).
        Assert.InRange(Share(CircuitsSection.Key), 0.2, 0.6);
        Assert.True(Share("re_they/neuron_patching") > 5 * Share("re_they/patching/resid_pre"));
        Assert.True(Share("re_they/patching/head_out") > Share("re_they/patching/resid_pre"));
        Assert.True(Share("re_they/model_check") < 0.01);
    }

    [Fact]
    public void A_patched_run_costs_the_blocks_and_positions_after_its_patch()
    {
        var cfg = RandomGpt2Checkpoint.Config;
        double Site(PatchSite site) => StudyWork.Sites([site], cfg.NLayers, positions: 8);
        Assert.Equal((11 + 0.3) / 12, Site(PatchSite.Residual("resid_pre", 0, 0)), 6);   // the whole model
        Assert.True(Site(PatchSite.Residual("resid_pre", 6, 0)) < Site(PatchSite.Residual("resid_pre", 5, 0)));
        Assert.True(Site(PatchSite.Residual("resid_pre", 5, 6)) < Site(PatchSite.Residual("resid_pre", 5, 2)));
        Assert.True(Site(PatchSite.Residual("mlp_out", 5, 0)) < Site(PatchSite.Residual("attn_out", 5, 0)));
        Assert.Equal(0, Site(PatchSite.Neuron(11, 7)));   // nothing after the last block's MLP runs again
    }
}
