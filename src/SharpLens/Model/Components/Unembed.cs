using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
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

    /// <summary>W_U changed in place (a training step): packs it again into the packed copy's own storage, when one is held.</summary>
    internal void RepackWeights()
    {
        if (_packed.IsValueCreated) _packed.Value.Repack(W_U.Data);
    }

    /// <summary>The unembedding's backward step: d/d ln_final's output = dLogits·W_Uᵀ; accumulates unembed.W_U (reads
    /// ln_final.hook_normalized from the cache: ln_final's output is that, ∘ w for an RMSNorm) and unembed.b_U when wanted.</summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dLogits">d loss / d logits [batch, pos, d_vocab]</param>
    /// <param name="lnFinal">the final normalization, whose output the unembedding reads</param>
    /// <returns>d loss / d ln_final's output [batch, pos, d_model] (= d/d ln_final.hook_normalized for LayerNorm)</returns>
    internal Tensor Backward(BackwardPass pass, Tensor dLogits, Normalization lnFinal)
    {
        int d = W_U.Dim(0), vocab = W_U.Dim(1), batch = dLogits.Dim(0), pos = dLogits.Dim(1), rows = batch * pos;
        var dNormalized = Tensor.Zeros(batch, pos, d);
        Gemm.Multiply(dLogits.Data, W_U.Data, dNormalized.Data, rows, vocab, d, transposeB: true);   // W_U [d, vocab] = [n, k]
        if (pass.Parameter("unembed.W_U", d, vocab) is { } dW)
            BackwardPass.AddWeightGradient(lnFinal.OutputOf(pass.Require(HookNames.LnFinalNormalized)).Data, dLogits.Data, dW.Data, rows);
        if (pass.Parameter("unembed.b_U", vocab) is { } dB) BackwardPass.AddColumnSums(dLogits.Data, dB.Data);
        return dNormalized;
    }
}
