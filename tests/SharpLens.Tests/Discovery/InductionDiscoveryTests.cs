using SharpLens.Analysis.Metrics;
using SharpLens.Circuits;
using SharpLens.Discovery;

namespace SharpLens.Tests.Discovery;

/// <summary>The induction discovery check on <see cref="HandBuiltInduction"/>, whose mechanism is set by hand: L0H0 is
/// the previous-token head, L1H0 the induction head, L0H1 attends but writes nothing, L1H1 is small noise.</summary>
public class InductionDiscoveryTests
{
    [Fact]
    public void PromptsEndInsideTheSecondCopyOfAUniqueSegment()
    {
        var inputs = InductionPrompts.Create(prompts: 40, length: 24, dVocab: 50, bos: 49, seed: 3);
        var answers = ((LogProbMetric)inputs.Metric).AnswerIds;
        for (int b = 0; b < 40; b++)
        {
            var seq = inputs.Clean.Sequence(b);
            Assert.Equal(24, seq.Length);
            Assert.Equal(49, seq[0]);
            Assert.DoesNotContain(49, seq[1..]);
            Assert.Equal(49, inputs.Corrupted.Sequence(b)[0]);
            // The final token occurs exactly once before, and the token after that copy is the answer.
            int last = seq[^1];
            var earlier = Enumerable.Range(0, 23).Where(i => seq[i] == last).ToList();
            Assert.Single(earlier);
            Assert.Equal(answers[b], seq[earlier[0] + 1]);
        }
        Assert.Equal(inputs.Clean.Ids, InductionPrompts.Create(40, 24, 50, 49, seed: 3).Clean.Ids);
        Assert.Contains("too small", Assert.Throws<InvalidInputException>(() => InductionPrompts.Create(4, 24, 6, 5, 0)).Message);
    }

    [Fact]
    public void TheHandSetMechanismIsFoundConfirmedAndRecovered()
    {
        var model = HandBuiltInduction.Create();
        var result = InductionDiscovery.Run(model, new InductionDiscoveryOptions { Prompts = 16, Seed = 4 });
        var m = result.Mechanism;
        Assert.True(m.Confirmed, m.Verdict);
        Assert.Equal([new HeadId(0, 0)], m.PreviousTokenHeads);
        Assert.Equal([new HeadId(1, 0)], m.InductionHeads);
        Assert.True(m.EachHead[0, 1] > 0.9 && m.EachHead[1, 1] > 0.9, $"L0H1 {m.EachHead[0, 1]}, L1H1 {m.EachHead[1, 1]}");
        Assert.All(result.Rankings, r => Assert.True(r.ExpectedFirst, $"{r.Score}: ranks {string.Join(",", r.Ranks)}"));
        Assert.Equal(1, Assert.Single(result.KComposition).Rank);
        // Path patching: the previous-token head matters through the induction head's keys, not its queries or values.
        var byInput = result.PathPatching.ToDictionary(p => p.Receiver, p => p.Value);
        Assert.True(byInput["L1H0<k>"] < -0.5, $"L0H0 -> L1H0<k> {byInput["L1H0<k>"]}");
        Assert.True(Math.Abs(byInput["L1H0<q>"]) < 0.1 && Math.Abs(byInput["L1H0<v>"]) < 0.1, $"q {byInput["L1H0<q>"]}, v {byInput["L1H0<v>"]}");
        Assert.Equal(["EAP", "EAP-IG", "ACDC"], result.Recovery.Select(r => r.Method));
        var (eap, eapIg, acdc) = (result.Recovery[0], result.Recovery[1], result.Recovery[2]);
        // EAP-IG ranks every planted edge above every negative; ACDC keeps them at some threshold with few negatives.
        Assert.True(eapIg.Auc == 1 && eapIg.AtPlantedSize.Recall == 1, $"EAP-IG AUC {eapIg.Auc}, ranks {string.Join(", ", eapIg.PlantedRanks!)}");
        Assert.True(acdc.Auc > 0.9, $"ACDC AUC {acdc.Auc}");
        // EAP's single gradient at the clean run misjudges edges into saturated attention (why EAP-IG exists), so it is
        // only asked to beat chance by a clear margin here.
        Assert.True(eap.Auc > 0.75, $"EAP AUC {eap.Auc}");
    }

    [Fact]
    public void PlantedEdgesFollowFromTheHeads()
    {
        var graph = new CircuitGraph(2, 2, 8);
        var truth = InductionDiscovery.PlantedEdgesOf(graph, [new HeadId(0, 0)], [new HeadId(1, 0)]);
        Assert.Equal(["input->a0.h0<v>", "a0.h0->a1.h0<k>", "input->a1.h0<q>", "input->a1.h0<v>", "a1.h0->logits"], truth.Planted.Select(e => e.Name));
        var partial = truth.Partial.Select(e => e.Name).ToHashSet();
        Assert.Contains("input->a0.h0<q>", partial);
        Assert.Contains("input->a1.h0<k>", partial);
        Assert.Contains("m0->a1.h0<q>", partial);
        Assert.Contains("a0.h0->m0", partial);
        Assert.DoesNotContain("a0.h1->m0", partial);            // an MLP edge of a head outside the mechanism is a negative
        Assert.True(truth.IsNegative(graph.EdgeIndexByName["a0.h0->a1.h0<q>"]));
        Assert.True(truth.IsNegative(graph.EdgeIndexByName["input->logits"]));
    }
}
