using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Token embedding: hook_embed[b, p] = W_E[tokens[b, p]].</summary>
public sealed class Embed(Tensor W_E)
{
    /// <summary>[d_vocab, d_model]</summary>
    public Tensor W_E { get; } = W_E;

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
}
