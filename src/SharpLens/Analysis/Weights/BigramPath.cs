using SharpLens.Model;
using SharpLens.Model.Hooks;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Weights;

/// <summary>Where the direct (bigram) path starts.</summary>
public enum BigramSource
{
    /// <summary>The bare token embedding W_E[t] (TransformerLens' <c>model.W_E @ model.W_U</c>).</summary>
    Embedding,
    /// <summary>
    /// The "effective embedding" W_E[t] + MLP0(LN2(W_E[t])): the token after the first MLP, which in GPT-2 acts as an
    /// extended embedding. Position embeddings and layer-0 attention are left out (the token seen alone).
    /// </summary>
    EffectiveEmbedding,
}

/// <summary>How strongly one source token alone favours one answer over another through the direct path.</summary>
/// <param name="SourceId">the source (e.g. pronoun) token</param>
/// <param name="Source">its text, or null</param>
/// <param name="Via">embedding or effective embedding</param>
/// <param name="CorrectId">the first answer token (e.g. "'re")</param>
/// <param name="WrongId">the second answer token (e.g. " are")</param>
/// <param name="CorrectLogit">the direct-path logit of the first answer</param>
/// <param name="WrongLogit">the direct-path logit of the second answer</param>
/// <param name="Top">the source's top direct-path next tokens</param>
public sealed record BigramPreference(int SourceId, string? Source, BigramSource Via, int CorrectId, int WrongId,
    double CorrectLogit, double WrongLogit, IReadOnlyList<TokenValue> Top)
{
    /// <summary>CorrectLogit − WrongLogit: positive when the source alone favours the first answer.</summary>
    public double LogitDiff => CorrectLogit - WrongLogit;
}

/// <summary>
/// The direct "bigram" path of the study's hypothesis: the logits a token produces on its own, read by the unembedding
/// without any attention or later MLP. By default the vector passes through the final LayerNorm (centre and scale, and
/// its weight and bias when they are not folded) and the unembedding adds b_U, i.e. what the model's last step does
/// with that vector; with <c>applyFinalLayerNorm: false</c> it is the plain product x·W_U that TransformerLens'
/// <c>model.W_E @ model.W_U</c> gives. Logit differences between two answers are what the study needs.
/// </summary>
public static class BigramPath
{
    /// <summary>The direct-path logits of one source token [d_vocab].</summary>
    /// <param name="model">the model</param>
    /// <param name="source">the token id</param>
    /// <param name="via">bare or effective embedding</param>
    /// <param name="applyFinalLayerNorm">read through ln_final and add b_U (default) or use the raw x·W_U</param>
    public static double[] Logits(HookedTransformer model, int source, BigramSource via = BigramSource.Embedding, bool applyFinalLayerNorm = true)
    {
        WeightMatrices.RequireToken(model, source);
        var x = SourceVector(model, source, via);
        if (applyFinalLayerNorm) x = model.LnFinal.Forward(new Tensor(x, 1, 1, x.Length), ForwardContext.None).Data;
        var logits = OvReadout.Unembed(model, x.Select(v => (double)v).ToArray());
        if (applyFinalLayerNorm)
            for (int t = 0; t < logits.Length; t++) logits[t] += model.Weights.b_U.Data[t];
        return logits;
    }

    /// <summary>For each source, how much it alone favours <paramref name="correct"/> over <paramref name="wrong"/>.</summary>
    /// <param name="model">the model</param>
    /// <param name="sources">source token ids (e.g. " they", " we")</param>
    /// <param name="correct">first answer id (e.g. "'re")</param>
    /// <param name="wrong">second answer id (e.g. " are")</param>
    /// <param name="via">bare or effective embedding</param>
    /// <param name="applyFinalLayerNorm">see <see cref="Logits"/></param>
    /// <param name="k">how many top next tokens to keep per source</param>
    public static IReadOnlyList<BigramPreference> Compare(HookedTransformer model, IReadOnlyList<int> sources, int correct, int wrong,
        BigramSource via = BigramSource.Embedding, bool applyFinalLayerNorm = true, int k = 10)
    {
        WeightMatrices.RequireToken(model, correct);
        WeightMatrices.RequireToken(model, wrong);
        foreach (int s in sources) WeightMatrices.RequireToken(model, s);
        return sources.Select(s =>
        {
            var logits = Logits(model, s, via, applyFinalLayerNorm);
            return new BigramPreference(s, OvReadout.TokenText(model, s), via, correct, wrong, logits[correct], logits[wrong],
                OvReadout.TopTokens(model, logits, k, largest: true));
        }).ToList();
    }

    /// <summary>The residual vector the path starts from [d_model].</summary>
    public static float[] SourceVector(HookedTransformer model, int source, BigramSource via)
    {
        WeightMatrices.RequireToken(model, source);
        int d = model.Config.DModel;
        var x = model.Weights.W_E.Data.AsSpan(source * d, d).ToArray();
        if (via == BigramSource.Embedding) return x;
        // The effective embedding: W_E[source] plus what block 0's MLP writes reading it alone (its ln2, its MLP).
        var mlpOut = model.Blocks[0].MlpBranch(new Tensor((float[])x.Clone(), 1, 1, d));
        TensorPrimitives.Add(x, mlpOut.Data, x);
        return x;
    }
}
