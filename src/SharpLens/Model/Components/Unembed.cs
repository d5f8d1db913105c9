using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Unembedding: logits = x·W_U + b_U (W_U tied to W_Eᵀ in GPT-2 before processing).</summary>
public sealed class Unembed
{
    private readonly PackedMatrix _wU;

    public Unembed(Tensor W_U, Tensor b_U)
    {
        this.W_U = W_U; this.b_U = b_U;
        _wU = PackedMatrix.Pack(W_U.Data, W_U.Dim(0), W_U.Dim(1));
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
        Gemm.Multiply(x, _wU, logits, rows);
        Kernels.AddBiasRows(logits, b_U.Data);
        return logits;
    }
}
