using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Unembedding: logits = x·W_U + b_U (W_U tied to W_Eᵀ in GPT-2 before processing).</summary>
public sealed class Unembed
{
    // Below this many rows the GEMM streams W_U once, which is as fast as a packed copy; above it the packed
    // layout pays off. Packing lazily keeps the common "final position only" runs free of a 154 MB copy for GPT-2.
    private const int PackFromRows = 16;
    private readonly Lazy<PackedMatrix> _packed;

    /// <summary>An unembedding with <paramref name="W_U"/> [d_model, d_vocab] and <paramref name="b_U"/> [d_vocab] (not copied).</summary>
    public Unembed(Tensor W_U, Tensor b_U)
    {
        this.W_U = W_U; this.b_U = b_U;
        _packed = new Lazy<PackedMatrix>(() => PackedMatrix.Pack(W_U.Data, W_U.Dim(0), W_U.Dim(1)));
    }

    /// <summary>[d_model, d_vocab]</summary>
    public Tensor W_U { get; }
    /// <summary>[d_vocab]</summary>
    public Tensor b_U { get; }

    /// <param name="x">ln_final.hook_normalized rows [rows, d_model]</param>
    /// <param name="rows">Number of rows of <paramref name="x"/>.</param>
    /// <returns>logits [rows, d_vocab] as a flat buffer</returns>
    public float[] Forward(ReadOnlySpan<float> x, int rows)
    {
        var logits = GC.AllocateUninitializedArray<float>(rows * W_U.Dim(1));
        // Packed: the GEMM adds b_U while each column panel is still in L1 (no second pass over 12.8 MB of logits).
        if (rows >= PackFromRows) Gemm.MultiplyAddBias(x, _packed.Value, b_U.Data, logits, rows);
        else
        {
            Gemm.Multiply(x, W_U.Data, logits, rows, W_U.Dim(0), W_U.Dim(1));
            ParallelRows.AddBiasRows(logits, b_U.Data);
        }
        return logits;
    }
}
