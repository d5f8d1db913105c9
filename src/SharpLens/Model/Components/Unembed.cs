using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Unembedding: logits = x·W_U + b_U (W_U tied to W_Eᵀ in GPT-2 before processing).</summary>
public sealed class Unembed
{
    // W_U is packed (a 154 MB copy for GPT-2) on the second call that computes full logits: a one-shot call (a CLI
    // prompt) streams W_U in place once, cheaper than copying it; a loop gets the packed layout from its second pass
    // on, whose sequential panels stream at memory speed and whose column split keeps every core busy at any row count.
    private readonly Lazy<PackedMatrix> _packed;
    private int _unpackedCalls;

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
        Forward(x, rows, logits);
        return logits;
    }

    /// <summary>Writes the logits into <paramref name="logits"/> (a caller's reused buffer: nothing is allocated).</summary>
    /// <param name="x">ln_final.hook_normalized rows [rows, d_model]</param>
    /// <param name="rows">Number of rows of <paramref name="x"/>.</param>
    /// <param name="logits">[rows, d_vocab], overwritten</param>
    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> logits)
    {
        // Packed: the GEMM adds b_U while each column panel is still in L1 (no second pass over 12.8 MB of logits).
        if (_packed.IsValueCreated || Interlocked.Increment(ref _unpackedCalls) > 1)
            Gemm.MultiplyAddBias(x, _packed.Value, b_U.Data, logits, rows);
        else
        {
            Gemm.Multiply(x, W_U.Data, logits, rows, W_U.Dim(0), W_U.Dim(1));
            for (int r = 0; r < rows; r++) Kernels.AddBiasRows(logits.Slice(r * b_U.Length, b_U.Length), b_U.Data);
        }
    }
}
