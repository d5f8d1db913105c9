using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Unembedding: logits = x·W_U + b_U (W_U tied to W_Eᵀ in GPT-2 before processing).</summary>
public sealed class Unembed
{
    // W_U is not packed: for GPT-2 a packed copy would cost another 154 MB, and the GEMM reads a plain B in
    // place for the few rows (final positions) a forward usually unembeds.
    public Unembed(Tensor W_U, Tensor b_U)
    {
        this.W_U = W_U; this.b_U = b_U;
    }

    /// <summary>[d_model, d_vocab]</summary>
    public Tensor W_U { get; }
    /// <summary>[d_vocab]</summary>
    public Tensor b_U { get; }

    /// <param name="x">ln_final.hook_normalized rows [rows, d_model]</param>
    /// <returns>logits [rows, d_vocab] as a flat buffer</returns>
    public float[] Forward(ReadOnlySpan<float> x, int rows)
    {
        var logits = new float[rows * W_U.Dim(1)];
        Gemm.Multiply(x, W_U.Data, logits, rows, W_U.Dim(0), W_U.Dim(1));
        Kernels.AddBiasRows(logits, b_U.Data);
        return logits;
    }
}
