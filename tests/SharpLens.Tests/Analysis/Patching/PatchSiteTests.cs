using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>Patch sites: canonical names, parsing, and the one name-to-sweep vocabulary.</summary>
public class PatchSiteTests
{
    [Theory]
    [InlineData("v", 7, 11, null, 5, "blocks.7.attn.hook_v[:, 5, 11]")]
    [InlineData("z", 0, 3, null, null, "blocks.0.attn.hook_z[:, :, 3]")]
    [InlineData("pattern", 2, 1, null, -1, "blocks.2.attn.hook_pattern[:, 1, -1]")]
    [InlineData("pattern", 2, 1, null, null, "blocks.2.attn.hook_pattern[:, 1]")]
    [InlineData("post", 8, null, 2744, null, "blocks.8.mlp.hook_post[:, :, 2744]")]
    [InlineData("resid_pre", 3, null, null, 5, "blocks.3.hook_resid_pre[:, 5]")]
    [InlineData("attn_out", 3, null, null, null, "blocks.3.hook_attn_out")]
    public void CanonicalNameIsTheHookAndItsIndexAndParsesBack(string activation, int layer, int? head, int? neuron, int? position, string name)
    {
        var site = new PatchSite(activation, layer, head, neuron, position);
        Assert.Equal(name, site.Name);
        Assert.StartsWith(site.HookName, name);
        Assert.Equal(site, PatchSite.Parse(name));
    }

    [Theory]
    [InlineData("blocks.7.attn.hook_v[:, 5]", "needs a head")]
    [InlineData("blocks.7.hook_resid_pre[0, 5]", "batch axis first")]
    [InlineData("blocks.7.attn.hook_result[:, :, 1]", "not a patch site name")]
    [InlineData("blocks.7.mlp.hook_post[:, x, 3]", "whole number")]
    public void BadNamesAreOneLineErrors(string name, string expected)
    {
        var ex = Assert.Throws<InvalidInputException>(() => PatchSite.Parse(name));
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void SiteRequiresTheComponentItsActivationHas()
    {
        Assert.Throws<InvalidInputException>(() => new PatchSite("v", 0));
        Assert.Throws<InvalidInputException>(() => new PatchSite("resid_pre", 0, head: 1));
        Assert.Throws<InvalidInputException>(() => new PatchSite("post", 0, head: 1));
        var cfg = PatchingReferenceTests.Load("tiny-a").Model.Config;
        Assert.Throws<InvalidInputException>(() => PatchSite.Head("q", 0, cfg.NHeads).Validate(cfg));
        Assert.Throws<InvalidInputException>(() => PatchSite.Neuron(cfg.NLayers, 0).Validate(cfg));
    }

    [Fact]
    public void UnknownSweepNamesAreOneErrorListingTheKnownOnes()
    {
        Assert.Equal("head_v", SweepNames.Canonical("head_v"));
        var e = Assert.Throws<InvalidInputException>(() => SweepNames.Canonical("head_value"));
        Assert.Contains("use any of resid_pre, resid_mid", e.Message);
        Assert.Equal("neurons_L8", SweepNames.Key(SweepNames.Neurons, 8));
        Assert.Equal("head_q_by_pos", SweepNames.Key("head_q_by_pos"));
        Assert.Throws<ArgumentException>(() => SweepNames.Key("head_q", 8));
    }

    [Fact]
    public void NamedSweepsLayOutSitesAsTheGrid()
    {
        var cfg = PatchingReferenceTests.Load("tiny-a").Model.Config;
        int L = cfg.NLayers, H = cfg.NHeads;
        var byPos = SweepNames.Build("head_v_by_pos", cfg, [-2, -1], ["a_-2", "b_-1"]);
        Assert.Equal(L * 2, byPos.Rows.Count);
        Assert.Equal("1/b_-1", byPos.Rows[3]);
        Assert.Equal(PatchSite.Head("v", 1, H - 1, -1), byPos.Sites[3 * H + H - 1]);
        var resid = SweepNames.Build("resid_mid", cfg, [0, 1, 2], ["x_0", "y_1", "z_2"]);
        Assert.Equal("blocks.1.hook_resid_mid[:, 2]", resid.Sites[1 * 3 + 2].Name);
        var neurons = SweepNames.Build("neurons", cfg, [], [], neuronLayers: [1], neuronPosition: -1);
        Assert.Equal(PatchSite.Neuron(1, 5, -1), neurons.Sites[5]);
        Assert.Equal("z", SweepNames.Build("head_out", cfg, [], []).Sites[0].Activation);
    }

    [Fact]
    public void AListOfSitesRunsAsOneSweepAndMatchesTheNamedSweepCells()
    {
        var (model, _) = PatchingReferenceTests.Load("tiny-a");
        var clean = new TokenBatch([[95, 1, 2, 3, 4], [95, 7, 8, 9, 10]], padId: 0);
        var corrupted = new TokenBatch([[95, 1, 5, 3, 4], [95, 7, 11, 9, 10]], padId: 0);
        var patcher = new ActivationPatcher(model, new PatchingInputs(clean, corrupted, new LogitDiffMetric([(3, 4), (5, 6)])));
        var heads = patcher.HeadsAllPositions(HeadActivation.Value);
        var resid = patcher.ByPosition("resid_mid");
        var sites = new[] { PatchSite.Head("v", 1, 2), PatchSite.Parse("blocks.0.hook_resid_mid[:, 2]") };
        var picked = patcher.Run(PatchSweep.Of("picked", sites));
        Assert.Equal(["blocks.1.attn.hook_v[:, :, 2]", "blocks.0.hook_resid_mid[:, 2]"], picked.Rows);
        Assert.Equal(heads[1, 2], picked[0, 0], 1e-5f);
        Assert.Equal(resid[0, 2], picked[1, 0], 1e-5f);
    }
}
