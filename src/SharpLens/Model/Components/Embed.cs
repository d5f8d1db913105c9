using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Model.Components;

/// <summary>Token embedding: hook_embed[b, p] = W_E[tokens[b, p]].</summary>
public sealed class Embed(Tensor W_E)
{
    /// <summary>[d_vocab, d_model]</summary>
    public Tensor W_E { get; } = W_E;

    /// <summary>hook_embed, with its shape.</summary>
    internal static HookDeclaration HookPoint => new(HookNames.Embed, null, ["batch", "pos", "d_model"]);

    /// <param name="tokens">[batch, pos] flattened</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence.</param>
    /// <returns>[batch, pos, d_model]</returns>
    public Tensor Forward(ReadOnlySpan<int> tokens, int batch, int pos)
    {
        int d = W_E.Dim(1), vocab = W_E.Dim(0);
        var output = Tensor.Uninitialized(batch, pos, d);
        for (int i = 0; i < tokens.Length; i++)
        {
            int id = tokens[i];
            if ((uint)id >= (uint)vocab)
                throw new InvalidInputException($"token id {id} is outside the vocabulary (0..{vocab - 1}): check the token ids");
            W_E.Data.AsSpan(id * d, d).CopyTo(output.Data.AsSpan(i * d, d));
        }
        return output;
    }

    /// <summary>Reports d/d hook_embed and, when wanted, adds each row's gradient to its token's row of embed.W_E.</summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dEmbed">d/d hook_embed [batch, pos, d_model]</param>
    /// <param name="tokens">the ids the forward embedded (needed only for W_E's gradient)</param>
    internal void Backward(BackwardPass pass, Tensor dEmbed, TokenBatch? tokens)
    {
        pass.Put(HookNames.Embed, dEmbed);
        int d = W_E.Dim(1);
        if (pass.Parameter("embed.W_E", W_E.Dim(0), d) is not { } acc) return;
        if (tokens is null || tokens.Ids.Length * d != dEmbed.Length)
            throw new InvalidInputException("embed.W_E's gradient needs the token ids the forward pass embedded: pass the batch to the backward pass");
        for (int i = 0; i < tokens.Ids.Length; i++)
        {
            var row = acc.Data.AsSpan(tokens.Ids[i] * d, d);
            System.Numerics.Tensors.TensorPrimitives.Add(row, dEmbed.Data.AsSpan(i * d, d), row);
        }
    }
}
