using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Learned positional embedding: hook_pos_embed[b, p] = W_pos[offset + p].</summary>
public sealed class PosEmbed(Tensor W_pos)
{
    /// <summary>[n_ctx, d_model]</summary>
    public Tensor W_pos { get; } = W_pos;

    /// <returns>[batch, pos, d_model]</returns>
    public Tensor Forward(int batch, int pos, int offset = 0)
    {
        int d = W_pos.Dim(1), nCtx = W_pos.Dim(0);
        if (offset + pos > nCtx)
            throw new InvalidInputException($"sequence of {offset + pos} tokens is longer than the model's context of {nCtx}: shorten the prompt");
        var output = Tensor.Uninitialized(batch, pos, d);
        var rows = W_pos.Data.AsSpan(offset * d, pos * d);
        for (int b = 0; b < batch; b++) rows.CopyTo(output.Data.AsSpan(b * pos * d));
        return output;
    }
}
