using SharpLens.Analysis.Attribution;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Attribution;

/// <summary>
/// Direct logit attribution on the tiny fixtures, raw and processed: decompositions add up to the measured logit
/// difference (minus the constant unembedding terms), heads + b_O add up to attn_out, neurons + b_out to mlp_out.
/// </summary>
public class DirectLogitAttributionTests
{
    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var m in new[] { "tiny-a", "tiny-b" }) { data.Add(m, false); data.Add(m, true); }
        return data;
    }

    private sealed record Run(HookedTransformer Model, TokenBatch Tokens, (int Correct, int Wrong)[] Answers, Tensor Logits, ActivationCache Cache)
    {
        public int[] Correct => Answers.Select(a => a.Correct).ToArray();
        public int[] Wrong => Answers.Select(a => a.Wrong).ToArray();

        public float[] Measured()
        {
            int vocab = Logits.Dim(2), pos = Logits.Dim(1);
            return Enumerable.Range(0, Tokens.Batch).Select(b =>
            {
                int off = (b * pos + Tokens.FinalPosition(b)) * vocab;
                return Logits.Data[off + Answers[b].Correct] - Logits.Data[off + Answers[b].Wrong];
            }).ToArray();
        }
    }

    // Ragged on purpose: prompts cut to different lengths, so final real positions differ and padding sits at the end.
    private static Run Make(string fixture, bool processed, bool ragged = true, Func<string, bool>? filter = null)
    {
        var model = Fixtures.Load(fixture, processed);
        var set = Fixtures.Tokens(fixture);
        int[] cut = [0, 2, 1, 3];
        var seqs = set.Clean.Select((s, i) => (IReadOnlyList<int>)s.Take(s.Length - (ragged ? cut[i % cut.Length] : 0)).ToArray()).ToList();
        var tokens = new TokenBatch(seqs, set.Clean[0][0]);
        var (logits, cache) = model.RunWithCache(tokens, filter);
        return new Run(model, tokens, set.AnswerPairs, logits, cache);
    }

    private static float[] ColumnSums(Tensor attrs)
    {
        int comps = attrs.Dim(0), batch = attrs.Dim(1);
        var sums = new float[batch];
        for (int c = 0; c < comps; c++) for (int b = 0; b < batch; b++) sums[b] += attrs.Data[c * batch + b];
        return sums;
    }

    private static float[] Add(float[] a, float[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    // The attribution of a constant vector (a bias) written at every prompt's position.
    private static float[] BiasAttr(Run r, Tensor bias, int[] positions)
    {
        int batch = r.Tokens.Batch, d = bias.Length;
        var values = Tensor.Zeros(1, batch, d);
        for (int b = 0; b < batch; b++) bias.Data.CopyTo(values.Data.AsSpan(b * d));
        return r.Cache.LogitAttrs(new ComponentStack(values, ["bias"], positions), r.Correct, r.Wrong).Data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecomposedResidSumsToMeasuredLogitDiffMinusConstants(string fixture, bool processed)
    {
        var r = Make(fixture, processed);
        var pos = PosSlice.Final(r.Tokens);
        var stack = r.Cache.DecomposeResid(pos);
        var attrs = r.Cache.LogitAttrs(stack, r.Correct, r.Wrong);
        Assert.Equal([stack.Components, r.Tokens.Batch], attrs.Shape);
        var constants = ResidualDirections.ConstantLogitTerms(r.Model, r.Correct, r.Wrong);
        TensorAssert.Close(r.Measured(), Add(ColumnSums(attrs), constants), $"{fixture} Σ decompose_resid + constants", 2e-4f, 1e-4f);

        // Without ln_final.b the constant is exactly the unembedding-bias difference (processed), otherwise it adds ln_final.b·ΔW_U.
        var bU = r.Model.Weights.b_U.Data;
        var bUDiff = r.Answers.Select(a => bU[a.Correct] - bU[a.Wrong]).ToArray();
        if (processed) TensorAssert.Close(bUDiff, constants, "processed constants = b_U difference", 1e-6f);
        else Assert.NotNull(r.Model.Weights.LnFinalB);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FinalAccumulatedResidIsMeasuredLogitDiffMinusConstants(string fixture, bool processed)
    {
        var r = Make(fixture, processed);
        var stack = r.Cache.AccumulatedResid(PosSlice.Final(r.Tokens), inclMid: true);
        int n = r.Model.Config.NLayers;
        var expectedLabels = Enumerable.Range(0, n).SelectMany(l => new[] { $"{l}_pre", $"{l}_mid" }).Append("final_post").ToArray();
        Assert.Equal(expectedLabels, stack.Labels);
        var attrs = r.Cache.LogitAttrs(stack, r.Correct, r.Wrong);
        var constants = ResidualDirections.ConstantLogitTerms(r.Model, r.Correct, r.Wrong);
        var final = attrs.Data.AsSpan((stack.Components - 1) * r.Tokens.Batch, r.Tokens.Batch).ToArray();
        TensorAssert.Close(r.Measured(), Add(final, constants), $"{fixture} final_post attribution + constants", 2e-4f, 1e-4f);

        // The final accumulated residual equals the sum of the decomposition.
        var decomposed = r.Cache.DecomposeResid(PosSlice.Final(r.Tokens)).Sum();
        TensorAssert.Close(stack.Values.Data.AsSpan((stack.Components - 1) * r.Tokens.Batch * stack.DModel).ToArray(), decomposed.Data, "final_post = Σ decompose_resid", 1e-4f);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void HeadResultsPlusBiasEqualAttnOutAttribution(string fixture, bool processed)
    {
        var r = Make(fixture, processed);
        var pos = PosSlice.Final(r.Tokens);
        int n = r.Model.Config.NLayers, heads = r.Model.Config.NHeads, batch = r.Tokens.Batch;
        var headStack = r.Cache.StackHeadResults(pos);
        Assert.Equal(Enumerable.Range(0, n).SelectMany(l => Enumerable.Range(0, heads).Select(h => $"L{l}H{h}")), headStack.Labels);
        var headAttrs = r.Cache.LogitAttrs(headStack, r.Correct, r.Wrong);
        var attnOut = r.Cache.DecomposeResid(pos, mode: DecomposeMode.Attn, inclEmbeds: false);
        Assert.Equal(Enumerable.Range(0, n).Select(l => $"{l}_attn_out"), attnOut.Labels);
        var attnAttrs = r.Cache.LogitAttrs(attnOut, r.Correct, r.Wrong);
        for (int l = 0; l < n; l++)
        {
            var sum = BiasAttr(r, r.Model.Weights.Blocks[l].b_O, headStack.Positions);
            for (int h = 0; h < heads; h++)
                for (int b = 0; b < batch; b++) sum[b] += headAttrs.Data[(l * heads + h) * batch + b];
            TensorAssert.Close(attnAttrs.Data.AsSpan(l * batch, batch), sum, $"{fixture} layer {l}: Σ heads + b_O", 2e-4f, 1e-4f);
        }
        // Residual vectors too: Σ_h result + b_O = hook_attn_out at the position.
        var vectorSum = Tensor.Zeros(batch, r.Model.Config.DModel);
        int d = r.Model.Config.DModel;
        for (int h = 0; h < heads; h++)
            for (int b = 0; b < batch; b++)
                System.Numerics.Tensors.TensorPrimitives.Add(vectorSum.Data.AsSpan(b * d, d), headStack.Row(h, b), vectorSum.Data.AsSpan(b * d, d));
        for (int b = 0; b < batch; b++)
            System.Numerics.Tensors.TensorPrimitives.Add(vectorSum.Data.AsSpan(b * d, d), r.Model.Weights.Blocks[0].b_O.Data, vectorSum.Data.AsSpan(b * d, d));
        TensorAssert.Close(attnOut.Values.Data.AsSpan(0, batch * d), vectorSum.Data, "Σ L0 heads + b_O = attn_out", 1e-4f);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void HeadResultsFromZMatchCachedHookResult(string fixture, bool processed)
    {
        var withResult = Make(fixture, processed);
        Assert.True(withResult.Cache.Contains(HookNames.Result(0)));
        var withoutResult = Make(fixture, processed, filter: name => !name.EndsWith("hook_result"));
        Assert.False(withoutResult.Cache.Contains(HookNames.Result(0)));
        var pos = PosSlice.Final(withResult.Tokens);
        TensorAssert.Close(withResult.Cache.StackHeadResults(pos).Values, withoutResult.Cache.StackHeadResults(pos).Values, "heads from z", 1e-5f);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NeuronResultsPlusBiasEqualMlpOutAttribution(string fixture, bool processed)
    {
        var r = Make(fixture, processed);
        var pos = PosSlice.Final(r.Tokens);
        int n = r.Model.Config.NLayers, dMlp = r.Model.Config.DMlp, batch = r.Tokens.Batch;
        var stack = r.Cache.StackNeuronResults(pos);
        Assert.Equal(n * dMlp, stack.Components);
        Assert.Equal("L1N5", stack.Labels[dMlp + 5]);
        var attrs = r.Cache.LogitAttrs(stack, r.Correct, r.Wrong);
        var fast = DirectLogitAttribution.NeuronLogitAttrs(r.Cache, pos, ResidualDirections.LogitDirections(r.Model, r.Correct, r.Wrong));
        TensorAssert.Close(attrs, fast, "NeuronLogitAttrs = LogitAttrs(StackNeuronResults)", 1e-5f, 1e-4f);

        var mlpAttrs = r.Cache.LogitAttrs(r.Cache.DecomposeResid(pos, mode: DecomposeMode.Mlp, inclEmbeds: false), r.Correct, r.Wrong);
        for (int l = 0; l < n; l++)
        {
            var sum = BiasAttr(r, r.Model.Weights.Blocks[l].b_out!, stack.Positions);
            for (int i = 0; i < dMlp; i++) for (int b = 0; b < batch; b++) sum[b] += attrs.Data[(l * dMlp + i) * batch + b];
            TensorAssert.Close(mlpAttrs.Data.AsSpan(l * batch, batch), sum, $"layer {l}: Σ neurons + b_out", 2e-4f, 1e-4f);
        }

        // A neuron slice picks the same rows.
        var sliced = r.Cache.StackNeuronResults(pos, layer: 1, neurons: [3, 7]);
        Assert.Equal(["L0N3", "L0N7"], sliced.Labels);
        TensorAssert.Close(stack.Values.Data.AsSpan(7 * batch * stack.DModel, batch * stack.DModel), sliced.Values.Data.AsSpan(batch * stack.DModel), "neuron slice");
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void RawAndProcessedAttributionsAgree(string fixture)
    {
        // fold_ln, centring and the b_V fold leave every LN-applied layer output unchanged, so with ln_final.w folded
        // into the raw direction the per-component attributions and the constants agree.
        var raw = Make(fixture, processed: false);
        var processed = Make(fixture, processed: true);
        var pos = PosSlice.Final(raw.Tokens);
        TensorAssert.Close(processed.Cache.LogitAttrs(processed.Cache.DecomposeResid(pos), processed.Correct, processed.Wrong),
            raw.Cache.LogitAttrs(raw.Cache.DecomposeResid(pos), raw.Correct, raw.Wrong), "raw vs processed decompose_resid attrs", 2e-4f, 1e-3f);
        TensorAssert.Close(ResidualDirections.ConstantLogitTerms(processed.Model, processed.Correct, processed.Wrong),
            ResidualDirections.ConstantLogitTerms(raw.Model, raw.Correct, raw.Wrong), "raw vs processed constants", 2e-4f, 1e-3f);
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void ApplyLnToStackAtALayerReproducesLn1Normalized(string fixture)
    {
        var r = Make(fixture, processed: true);
        var pos = PosSlice.Final(r.Tokens);
        var stack = r.Cache.DecomposeResid(pos, layer: 1, applyLn: true);
        Assert.Equal(HookNames.Ln1Scale(1), stack.LnScaleHook);
        Assert.Equal(["embed", "pos_embed", "0_attn_out", "0_mlp_out"], stack.Labels);
        var normalized = r.Cache[HookNames.Ln1Normalized(1)];
        int d = stack.DModel;
        var expected = new float[r.Tokens.Batch * d];
        for (int b = 0; b < r.Tokens.Batch; b++)
            normalized.Data.AsSpan((b * normalized.Dim(1) + r.Tokens.FinalPosition(b)) * d, d).CopyTo(expected.AsSpan(b * d));
        TensorAssert.Close(expected, stack.Sum().Data, "Σ LN-applied components = ln1.hook_normalized", 1e-4f);

        // mlp_input: resid_mid of the layer, divided by ln2's scale.
        var acc = r.Cache.AccumulatedResid(pos, layer: 1, mlpInput: true, applyLn: true);
        Assert.Equal(["0_pre", "1_pre", "1_mid"], acc.Labels);
        Assert.Equal(HookNames.Ln2Scale(1), acc.LnScaleHook);
        Assert.Throws<InvalidInputException>(() => r.Cache.ApplyLnToStack(acc));
        Assert.Throws<InvalidInputException>(() => r.Cache.LogitAttrs(acc, r.Correct, r.Wrong));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForLogitDiffIsConsistent(string fixture, bool processed)
    {
        var r = Make(fixture, processed, filter: DirectLogitAttribution.NeededHooks(Fixtures.Load(fixture, processed).Config.NLayers).ToHashSet().Contains);
        var result = DirectLogitAttribution.ForLogitDiff(r.Model, r.Cache, r.Tokens, r.Answers, topK: 5);
        int n = r.Model.Config.NLayers, heads = r.Model.Config.NHeads, batch = r.Tokens.Batch;
        var measured = r.Measured();
        TensorAssert.Close(measured, result.MeasuredLogitDiff, "measured logit diff", 2e-4f, 1e-4f);
        Assert.Equal(r.Tokens.FinalPositions(), result.Positions);

        Assert.Equal(["logit_diff"], result.Layers.Rows);
        Assert.Equal(2 + 2 * n, result.Layers.Cols.Count);
        Assert.Equal([batch, 1, 2 + 2 * n], result.Layers.PerPrompt!.Shape);
        for (int b = 0; b < batch; b++)
        {
            float sum = result.ConstantTerms[b];
            for (int c = 0; c < result.Layers.Cols.Count; c++) sum += result.Layers.PerPrompt.Data[b * result.Layers.Cols.Count + c];
            Assert.True(MathF.Abs(sum - measured[b]) < 2e-4f + 1e-4f * MathF.Abs(measured[b]), $"prompt {b}: Σ layers + constant = {sum}, measured {measured[b]}");
            int last = result.LogitLens.Cols.Count - 1;
            Assert.Equal(measured[b], result.LogitLens.PerPrompt!.Data[b * (last + 1) + last] + result.ConstantTerms[b], 2e-4f + 1e-4f * MathF.Abs(measured[b]));
        }
        Assert.Equal("final_post", result.LogitLens.Cols[^1]);
        Assert.Equal(measured.Average(), result.LogitLens.Values.Data[^1] + result.ConstantTerms.Average(), 3e-4f + 1e-4f * MathF.Abs(measured.Average()));

        Assert.Equal(Enumerable.Range(0, n).Select(l => l.ToString()), result.Heads.Rows);
        Assert.Equal(Enumerable.Range(0, heads).Select(h => h.ToString()), result.Heads.Cols);
        var headAttrs = r.Cache.LogitAttrs(r.Cache.StackHeadResults(PosSlice.Final(r.Tokens)), r.Correct, r.Wrong);
        for (int l = 0; l < n; l++)
            for (int h = 0; h < heads; h++)
            {
                Assert.Equal(headAttrs.Data[((l * heads) + h) * batch + 1], result.Heads.PerPrompt!.Data[(1 * n + l) * heads + h], 1e-6f);
                Assert.Equal(Enumerable.Range(0, batch).Average(b => headAttrs.Data[(l * heads + h) * batch + b]), result.Heads[l, h], 1e-5f);
            }

        Assert.Equal(5, result.TopNeurons.Cols.Count);
        Assert.All(result.TopNeurons.Cols, c => Assert.Matches(@"^L\d+N\d+$", c));
        var means = Enumerable.Range(0, 5).Select(k => MathF.Abs(result.TopNeurons[0, k])).ToArray();
        Assert.Equal(means.OrderByDescending(x => x), means);
        var all = DirectLogitAttribution.NeuronLogitAttrs(r.Cache, PosSlice.Final(r.Tokens), ResidualDirections.LogitDirections(r.Model, r.Correct, r.Wrong));
        float maxAbs = Enumerable.Range(0, all.Dim(0)).Max(i => MathF.Abs(Enumerable.Range(0, batch).Average(b => all.Data[i * batch + b])));
        Assert.Equal(maxAbs, means[0], 1e-5f);
    }

    [Fact]
    public void DirectionsAndErrors()
    {
        var r = Make("tiny-a", processed: true, ragged: false);
        var wU = r.Model.Weights.W_U;
        var dirs = ResidualDirections.TokensToResidualDirections(r.Model, [5, 9]);
        Assert.Equal([2, wU.Dim(0)], dirs.Shape);
        for (int j = 0; j < wU.Dim(0); j++) Assert.Equal(wU[j, 9], dirs[1, j]);
        var diff = ResidualDirections.TokensToResidualDirections(r.Model, [5], [9]);
        for (int j = 0; j < wU.Dim(0); j++) Assert.Equal(wU[j, 5] - wU[j, 9], diff[0, j], 1e-6f);
        Assert.Throws<InvalidInputException>(() => ResidualDirections.TokensToResidualDirections(r.Model, [wU.Dim(1)]));

        var pos = PosSlice.Final(r.Tokens);
        Assert.Throws<InvalidInputException>(() => r.Cache.DecomposeResid(PosSlice.At(r.Tokens.Pos)));
        Assert.Throws<InvalidInputException>(() => r.Cache.DecomposeResid(PosSlice.PerPrompt([1, 2])));
        Assert.Throws<InvalidInputException>(() => r.Cache.DecomposeResid(pos, layer: r.Model.Config.NLayers + 1));
        Assert.Throws<InvalidInputException>(() => r.Cache.LogitAttrs(r.Cache.DecomposeResid(pos), [1]));
        Assert.Throws<InvalidInputException>(() => DirectLogitAttribution.ForLogitDiff(r.Model, r.Cache, r.Tokens, r.Answers.Take(2).ToArray()));

        // PosSlice.At(-1) is the last padded position, the same as Final for an unpadded batch.
        TensorAssert.Close(r.Cache.DecomposeResid(pos).Values, r.Cache.DecomposeResid(PosSlice.At(-1)).Values, "At(-1) = Final (unpadded)", 0f);

        // Remainder completes the heads to resid_post.
        var withRemainder = r.Cache.StackHeadResults(pos, inclRemainder: true);
        Assert.Equal("remainder", withRemainder.Labels[^1]);
        var final = r.Cache.AccumulatedResid(pos);
        TensorAssert.Close(final.Values.Data.AsSpan((final.Components - 1) * r.Tokens.Batch * final.DModel).ToArray(), withRemainder.Sum().Data, "heads + remainder = resid_post", 1e-4f);
    }
}
