using SharpLens.Circuits;

namespace SharpLens.Tests.Circuits;

public class CircuitGraphTests
{
    [Fact]
    public void Gpt2SmallShapedGraphHasEapIgCounts()
    {
        var g = new CircuitGraph(12, 12, 768);
        Assert.Equal(32491, g.Edges.Count);
        Assert.Equal(157, g.NForward);
        Assert.Equal(445, g.NBackward);
        Assert.Equal(32491, g.EdgeIndexByName.Count);   // names are unique
    }

    [Fact]
    public void IndicesAndNamesFollowEapIg()
    {
        var g = new CircuitGraph(3, 4, 16);
        Assert.Equal(0, g.RequireUpstream("input").Index);
        Assert.Equal(1 + 2 * 5 + 3, g.HeadForward(2, 3));
        Assert.Equal(1 + 1 * 5 + 4, g.MlpForward(1));
        Assert.Equal(2 * 13 + 2 * 4 + 1, g.HeadBackward(2, 1, HeadInput.V));
        Assert.Equal(1 * 13 + 12, g.MlpBackward(1));
        Assert.Equal(3 * 13, g.LogitsBackward);
        Assert.Equal("a0.h1->a2.h3<v>", g.Edge("a0.h1->a2.h3<v>").Name);
        Assert.Equal(g.HeadBackward(2, 3, HeadInput.V), g.Edge("a0.h1->a2.h3<v>").Child.Index);
        Assert.NotNull(g.Edge("a1.h0->m1"));          // an MLP reads its own layer's heads
        Assert.NotNull(g.Edge("m2->logits"));
        Assert.NotNull(g.Edge("input->a0.h0<q>"));
        Assert.Equal(["input", "a0.h0", "a0.h1", "a0.h2", "a0.h3", "m0"], g.NodeNames.Take(6));
        Assert.Equal("logits", g.NodeNames.Last());
    }

    [Theory]
    [InlineData("a1.h0->a1.h2<q>", "not before")]
    [InlineData("m1->a1.h0<k>", "not before")]
    [InlineData("a0.h0->a1.h2", "<q>, <k> or <v>")]
    [InlineData("a0.h0->m1<v>", "only heads")]
    [InlineData("a5.h0->logits", "head L5H0 does not exist")]
    [InlineData("a0.h9->logits", "head L0H9 does not exist")]
    [InlineData("x7->logits", "unknown node 'x7'")]
    [InlineData("logits->m0", "only be an edge's child")]
    [InlineData("a0.h0", "not an edge name")]
    public void BadEdgeNamesGiveOneLineErrors(string name, string expected)
    {
        var g = new CircuitGraph(3, 4, 16);
        var e = Assert.Throws<InvalidInputException>(() => g.Edge(name));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void EveryEdgeParentPrecedesItsChild()
    {
        var g = new CircuitGraph(4, 3, 8);
        foreach (var e in g.Edges)
        {
            if (e.Parent.IsInput) continue;
            Assert.True(e.Child.IsLogits || e.Parent.Layer < e.Child.Layer || (e.Child.Head < 0 && e.Parent.Layer == e.Child.Layer && !e.Parent.IsMlp),
                e.Name);
        }
    }
}
