using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Learned positional embedding: hook_pos_embed[b, p] = W_pos[offset + p].</summary>
public sealed class PosEmbed(Tensor W_pos)
{
    /// <summary>[n_ctx, d_model]</summary>
    public Tensor W_pos { get; } = W_pos;

    /// <summary>hook_pos_embed, with its shape.</summary>
    internal static HookDeclaration HookPoint => new(HookNames.PosEmbed, null, ["batch", "pos", "d_model"]);

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

    /// <summary>Reports d/d hook_pos_embed and, when wanted, adds the gradient summed over the batch to pos_embed.W_pos
    /// (positions from 0).</summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dPosEmbed">d/d hook_pos_embed [batch, pos, d_model]</param>
    internal void Backward(BackwardPass pass, Tensor dPosEmbed)
    {
        pass.Put(HookNames.PosEmbed, dPosEmbed);
        int d = W_pos.Dim(1), width = dPosEmbed.Dim(1) * d;
        if (pass.Parameter("pos_embed.W_pos", W_pos.Dim(0), d) is not { } acc) return;
        var used = acc.Data.AsSpan(0, width);
        for (int off = 0; off < dPosEmbed.Length; off += width)
            System.Numerics.Tensors.TensorPrimitives.Add(used, dPosEmbed.Data.AsSpan(off, width), used);
    }
}
