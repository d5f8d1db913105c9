using SharpLens.Model;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// Unembedding directions in the residual stream (TransformerLens' tokens_to_residual_directions) and the
/// directions and constants that make a direct logit attribution add up to the measured logits.
/// </summary>
/// <remarks>
/// The logit of token t is <c>LN_final(x)·W_U[:, t] + b_U[t]</c>, with <c>LN_final(x) = (x - mean(x)) / scale ⊙ w + b</c>.
/// For processed models (fold_ln) w and b are gone (folded into W_U and b_U), so a component's attribution is
/// <c>centre(c) / scale · W_U[:, t]</c>, TransformerLens' logit_attrs exactly. For raw models TransformerLens
/// still projects onto W_U alone, which ignores ln_final.w; here <see cref="LogitDirections"/> folds ln_final.w
/// into the direction (<c>W_U[:, t] ⊙ w</c>) so attributions stay exact, and the remaining constant
/// <c>b·W_U[:, t] + b_U[t]</c> is reported by <see cref="ConstantLogitTerms"/>.
/// </remarks>
public static class ResidualDirections
{
    /// <summary>W_U[:, id] for each id: [ids, d_model] (TL tokens_to_residual_directions; ln_final.w not applied).</summary>
    public static Tensor TokensToResidualDirections(HookedTransformer model, IReadOnlyList<int> tokenIds)
    {
        var wU = model.Weights.W_U;
        int d = wU.Dim(0), vocab = wU.Dim(1);
        var result = Tensor.Zeros(tokenIds.Count, d);
        for (int i = 0; i < tokenIds.Count; i++)
        {
            int id = RequireToken(tokenIds[i], vocab);
            for (int j = 0; j < d; j++) result.Data[i * d + j] = wU.Data[j * vocab + id];
        }
        return result;
    }

    /// <summary>W_U[:, id]: [d_model].</summary>
    public static Tensor TokenToResidualDirection(HookedTransformer model, int tokenId) =>
        TokensToResidualDirections(model, [tokenId]).Reshape(model.Config.DModel);

    /// <summary>W_U[:, correct] - W_U[:, incorrect] per pair: [pairs, d_model] (ln_final.w not applied).</summary>
    public static Tensor TokensToResidualDirections(HookedTransformer model, IReadOnlyList<int> correct, IReadOnlyList<int> incorrect)
    {
        RequireSameCount(correct, incorrect);
        var a = TokensToResidualDirections(model, correct);
        var b = TokensToResidualDirections(model, incorrect);
        TensorPrimitives.Subtract(a.Data, b.Data, a.Data);
        return a;
    }

    /// <summary>
    /// The direction an LN-applied component (centred, divided by ln_final's scale) is projected on:
    /// W_U[:, correct] (- W_U[:, incorrect] when given), multiplied elementwise by ln_final.w for raw models
    /// (a no-op for processed ones, where ln_final.w is folded into W_U). [tokens, d_model].
    /// </summary>
    public static Tensor LogitDirections(HookedTransformer model, IReadOnlyList<int> correct, IReadOnlyList<int>? incorrect = null)
    {
        var dirs = incorrect is null ? TokensToResidualDirections(model, correct) : TokensToResidualDirections(model, correct, incorrect);
        if (model.Weights.LnFinalW is { } w)
        {
            int d = w.Length;
            for (int i = 0; i < dirs.Dim(0); i++) TensorPrimitives.Multiply(dirs.Data.AsSpan(i * d, d), w.Data, dirs.Data.AsSpan(i * d, d));
        }
        return dirs;
    }

    /// <summary>
    /// The part of each logit (difference) no residual component accounts for: b_U[correct] - b_U[incorrect],
    /// plus, for raw models, ln_final.b·(W_U[:, correct] - W_U[:, incorrect]). Σ attributions + this = measured logit (difference).
    /// </summary>
    public static float[] ConstantLogitTerms(HookedTransformer model, IReadOnlyList<int> correct, IReadOnlyList<int>? incorrect = null)
    {
        if (incorrect is not null) RequireSameCount(correct, incorrect);
        var bU = model.Weights.b_U.Data;
        var result = new float[correct.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = bU[RequireToken(correct[i], bU.Length)];
            if (incorrect is not null) result[i] -= bU[RequireToken(incorrect[i], bU.Length)];
        }
        if (model.Weights.LnFinalB is { } lnB)
        {
            var raw = incorrect is null ? TokensToResidualDirections(model, correct) : TokensToResidualDirections(model, correct, incorrect);
            int d = lnB.Length;
            for (int i = 0; i < result.Length; i++) result[i] += TensorPrimitives.Dot(raw.Data.AsSpan(i * d, d), lnB.Data);
        }
        return result;
    }

    private static int RequireToken(int id, int vocab) => (uint)id < (uint)vocab ? id
        : throw new InvalidInputException($"token id {id} is outside the vocabulary (0..{vocab - 1}): check the answer token ids");

    private static void RequireSameCount(IReadOnlyList<int> correct, IReadOnlyList<int> incorrect)
    {
        if (correct.Count != incorrect.Count)
            throw new InvalidInputException($"{correct.Count} correct tokens but {incorrect.Count} incorrect tokens: give one incorrect token per correct token");
    }
}
