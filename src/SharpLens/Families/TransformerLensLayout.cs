using SharpLens.Tensors;

namespace SharpLens.Families;

/// <summary>
/// The conversions from PyTorch Linear weights ([out, in], y = x·Wᵀ) to TransformerLens' layouts, the same for every
/// family (TransformerLens' <c>weight_conversions</c> do them with einops rearranges).
/// </summary>
internal static class TransformerLensLayout
{
    /// <summary>q/k/v_proj.weight [heads·d_head, d_model] → W_Q/W_K/W_V [heads, d_model, d_head]
    /// (TransformerLens' "(n h) m -> n m h").</summary>
    public static Tensor HeadsIn(Tensor linear, int heads, int dHead)
    {
        int d = linear.Dim(1);
        var w = Tensor.ZerosLongLived(heads, d, dHead);
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < dHead; j++)
            {
                var row = linear.Data.AsSpan((h * dHead + j) * d, d);
                for (int i = 0; i < d; i++) w.Data[(h * d + i) * dHead + j] = row[i];
            }
        return w;
    }

    /// <summary>q/k/v_proj.bias [heads·d_head] → b_Q/b_K/b_V [heads, d_head].</summary>
    public static Tensor HeadsBias(Tensor bias, int heads, int dHead) => new(bias.Data, heads, dHead);

    /// <summary>o_proj.weight [d_model, heads·d_head] → W_O [heads, d_head, d_model] ("m (n h) -> n h m").</summary>
    public static Tensor HeadsOut(Tensor linear, int heads, int dHead) => Transpose(linear).Reshape(heads, dHead, linear.Dim(0));

    /// <summary>A Linear weight [out, in] → its transpose [in, out] (W_in, W_gate, W_out, W_U).</summary>
    public static Tensor Transpose(Tensor m)
    {
        int rows = m.Dim(0), cols = m.Dim(1);
        var t = Tensor.ZerosLongLived(cols, rows);
        const int tile = 32;
        for (int i0 = 0; i0 < rows; i0 += tile)
            for (int j0 = 0; j0 < cols; j0 += tile)
                for (int i = i0; i < Math.Min(i0 + tile, rows); i++)
                    for (int j = j0; j < Math.Min(j0 + tile, cols); j++)
                        t.Data[j * rows + i] = m.Data[i * cols + j];
        return t;
    }

    /// <summary>Zeros [shape] (the biases TransformerLens adds where a family has none).</summary>
    public static Tensor Zeros(params int[] shape) => Tensor.ZerosLongLived(shape);
}
