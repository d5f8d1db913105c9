using SharpLens.Analysis;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Analysis.Attribution;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Names;

/// <summary>One parser and one formatter for heads and neurons (<see cref="ComponentNames"/>): every accepted form reads
/// to the same value, SharpLens writes one form, a bad name is one message listing the forms, and a name outside the
/// model is one message naming its sizes.</summary>
public class ComponentNamesTests
{
    [Theory]
    [InlineData("L7H11")]
    [InlineData("l7h11")]
    [InlineData(" L7H11 ")]
    [InlineData("7.11")]
    [InlineData("a7.h11")]
    [InlineData("blocks.7.attn.hook_z[:, :, 11]")]
    [InlineData("blocks.7.attn.hook_q[:, :, 11]")]
    [InlineData("blocks.7.attn.hook_v[:,:,11]")]
    [InlineData("blocks.7.attn.hook_pattern[:, 11]")]
    public void EveryAcceptedHeadFormReadsToTheSameHead(string text)
    {
        var head = HeadId.Parse(text);
        Assert.Equal(new HeadId(7, 11), head);
        Assert.Equal("L7H11", head.ToString());
        Assert.Equal("a7.h11", head.EapIgName);
    }

    [Theory]
    [InlineData("L8N2744")]
    [InlineData("l8n2744")]
    [InlineData("8.2744")]
    [InlineData("blocks.8.mlp.hook_post[:, :, 2744]")]
    public void EveryAcceptedNeuronFormReadsToTheSameNeuron(string text)
    {
        Assert.Equal(new NeuronId(8, 2744), NeuronId.Parse(text));
        Assert.Equal("L8N2744", NeuronId.Parse(text).ToString());
    }

    [Fact]
    public void TheFormatterAndTheParserAreInverse()
    {
        for (int l = 0; l < 40; l += 3)
            for (int i = 0; i < 5000; i += 97)
            {
                Assert.Equal(new HeadId(l, i), HeadId.Parse(new HeadId(l, i).ToString()));
                Assert.Equal(new HeadId(l, i), HeadId.Parse(new HeadId(l, i).EapIgName));
                Assert.Equal(new NeuronId(l, i), NeuronId.Parse(new NeuronId(l, i).ToString()));
            }
    }

    [Theory]
    [InlineData("")]
    [InlineData("L7")]
    [InlineData("L7H")]
    [InlineData("7")]
    [InlineData("7.11.2")]
    [InlineData("a7")]
    [InlineData("H11")]
    [InlineData("L7N11")]                               // a neuron, not a head
    [InlineData("L-1H2")]
    [InlineData("L99999999999H1")]                      // overflows an int
    [InlineData("a7.h11<v>")]                           // a head's input, where a head is asked for
    [InlineData("a7.h11<x>")]
    [InlineData("blocks.7.attn.hook_z[:, 5, 11]")]      // one position of the head, not the head
    [InlineData("blocks.7.hook_resid_pre")]
    [InlineData("blocks.8.mlp.hook_post[:, :, 2744]")]  // a neuron
    public void ABadHeadNameIsOneMessageListingTheForms(string text)
    {
        var e = Assert.Throws<InvalidInputException>(() => HeadId.Parse(text));
        Assert.Equal($"'{text}' is not a head name: write L7H11 (layer 7, head 11); also accepted: 7.11, a7.h11, blocks.7.attn.hook_z[:, :, 11]", e.Message);
    }

    [Theory]
    [InlineData("L8")]
    [InlineData("L8H2744")]
    [InlineData("m8")]
    [InlineData("8")]
    [InlineData("blocks.8.mlp.hook_post[:, -1, 2744]")]
    [InlineData("blocks.8.attn.hook_z[:, :, 3]")]
    public void ABadNeuronNameIsOneMessageListingTheForms(string text)
    {
        var e = Assert.Throws<InvalidInputException>(() => NeuronId.Parse(text));
        Assert.Equal($"'{text}' is not a neuron name: write L8N2744 (layer 8, neuron 2744); also accepted: 8.2744, blocks.8.mlp.hook_post[:, :, 2744]", e.Message);
    }

    [Theory]
    [InlineData("a7.h11<v>", 'v')]
    [InlineData("L7H11<q>", 'q')]
    [InlineData("7.11<K>", 'k')]
    public void AHeadInputIsTheHeadAndEapIgsSuffix(string text, char input)
    {
        var (head, which) = ComponentNames.ParseHeadInput(text);
        Assert.Equal(new HeadId(7, 11), head);
        Assert.Equal(input, which);
        Assert.Null(ComponentNames.ParseHeadInput("a7.h11").Input);
    }

    [Fact]
    public void ANameOutsideTheModelIsOneMessageNamingItsSizes()
    {
        var config = ModelConfig.Gpt2Small;
        Assert.Equal(new HeadId(11, 11), new HeadId(11, 11).RequireIn(config));
        var head = Assert.Throws<InvalidInputException>(() => new HeadId(12, 0).RequireIn(config));
        Assert.Equal("head L12H0 does not exist: gpt2 has 12 layers of 12 heads (L0H0 to L11H11)", head.Message);
        var neuron = Assert.Throws<InvalidInputException>(() => new NeuronId(8, 3072).RequireIn(config));
        Assert.Equal("neuron L8N3072 does not exist: gpt2 has 12 layers of 3072 neurons (L0N0 to L11N3071)", neuron.Message);
        var unknownWidth = Assert.Throws<InvalidInputException>(() => new NeuronId(4, 1).RequireIn(4, 0));
        Assert.Equal("neuron L4N1 does not exist: the model has 4 layers (0 to 3)", unknownWidth.Message);
    }

    [Fact]
    public void ListsSplitOnCommasOutsideTransformerLensIndices()
    {
        Assert.Equal(["L7H11", "blocks.9.attn.hook_z[:, :, 9]", "a1.h0"], ComponentNames.SplitList(" L7H11,blocks.9.attn.hook_z[:, :, 9],, a1.h0 "));
        Assert.Equal([new HeadId(7, 11), new HeadId(9, 9), new HeadId(1, 0)], HeadId.ParseList("L7H11,blocks.9.attn.hook_z[:, :, 9],a1.h0"));
        Assert.Equal([new NeuronId(8, 2744), new NeuronId(10, 1063)], NeuronId.ParseList("L8N2744, 10.1063"));
    }

    [Fact]
    public void CircuitNodesAcceptEveryHeadFormAndReportRangesInOneMessage()
    {
        var graph = new CircuitGraph(3, 4, 16);
        Assert.Equal("a2.h3", graph.RequireUpstream("L2H3").Name);
        Assert.Equal("a2.h3", graph.RequireUpstream("2.3").Name);
        Assert.Equal("m1", graph.RequireUpstream("m1").Name);
        Assert.Equal("a2.h3<v>", graph.RequireDownstream("L2H3<v>").InputName);
        Assert.Equal("a2.h3<q>", graph.RequireDownstream("a2.h3<q>").InputName);
        Assert.Equal("head L3H0 does not exist: the model has 3 layers of 4 heads (L0H0 to L2H3)",
            Assert.Throws<InvalidInputException>(() => graph.RequireDownstream("a3.h0<v>")).Message);
        Assert.Contains("name its input, e.g. 'a2.h3<v>'", Assert.Throws<InvalidInputException>(() => graph.RequireDownstream("L2H3")).Message);
        Assert.Contains("a sender is the head's output", Assert.Throws<InvalidInputException>(() => graph.RequireUpstream("a2.h3<v>")).Message);
        Assert.Contains("layer 3 does not exist", Assert.Throws<InvalidInputException>(() => graph.RequireUpstream("m3")).Message);
        Assert.Contains("edges use EAP-IG node names: write 'a0.h1->a2.h3<v>'", Assert.Throws<InvalidInputException>(() => graph.Edge("L0H1->a2.h3<v>")).Message);
    }

    [Fact]
    public void HeadPatternsAndNeuronActivationsAreTheCachedValuesAtEachPromptsRealPositions()
    {
        var model = RandomModel.Create(new ModelConfig { NLayers = 3, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 20, NCtx = 8 }, seed: 4);
        var tokens = new TokenBatch([[19, 3, 5, 7, 2], [19, 4, 5], [19, 8, 9, 10]], padId: 0);
        var (_, cache) = model.RunWithCache(tokens, name => name.EndsWith("hook_pattern") || name.EndsWith("hook_post"), LogitsMode.None);
        var neurons = new[] { new NeuronId(0, 3), new NeuronId(2, 31) };
        var activations = ComponentActivations.NeuronActivations(model, tokens, neurons);
        for (int i = 0; i < neurons.Length; i++)
            for (int b = 0; b < tokens.Batch; b++)
            {
                Assert.Equal(tokens.Lengths[b], activations[i][b].Length);
                var post = cache[HookNames.MlpPost(neurons[i].Layer)];
                for (int p = 0; p < tokens.Lengths[b]; p++) Assert.Equal(post[b, p, neurons[i].Neuron], activations[i][b][p]);
            }
        var heads = new[] { new HeadId(1, 1), new HeadId(2, 0) };
        var ids = tokens.Sequence(1);
        var patterns = ComponentActivations.HeadPatterns(model, ids, heads);
        var (_, single) = model.RunWithCache(TokenBatch.Single(ids), name => name.EndsWith("hook_pattern"), LogitsMode.None);
        for (int i = 0; i < heads.Length; i++)
        {
            Assert.Equal(ids.Length, patterns[i].GetLength(0));
            var pattern = single[HookNames.Pattern(heads[i].Layer)];
            for (int q = 0; q < ids.Length; q++)
                for (int k = 0; k < ids.Length; k++) Assert.Equal(pattern[0, heads[i].Head, q, k], patterns[i][q, k]);
            // The batched run pads the other prompts; prompt 1's real positions agree with its own run to float precision.
            var fromBatch = cache.HeadPattern(heads[i], prompt: 1, positions: ids.Length);
            Assert.Equal(ids.Length, fromBatch.GetLength(1));
            for (int q = 0; q < ids.Length; q++)
                for (int k = 0; k < ids.Length; k++) Assert.Equal(patterns[i][q, k], fromBatch[q, k], 1e-5f);
        }
        Assert.Throws<InvalidInputException>(() => ComponentActivations.HeadPatterns(model, ids, [new HeadId(1, 2)]));
        Assert.Throws<InvalidInputException>(() => ComponentActivations.NeuronActivations(model, tokens, [new NeuronId(3, 0)]));
    }
}
