using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>
/// The least work a forward pass of one shape must do: its multiply-adds (2 flops each) and the bytes of weights it
/// must read once. Divided by the FMA peak and the memory read bandwidth measured on the machine
/// (<see cref="GemmBenchmark"/>) they give the pass's compute limit and memory limit, the floors <c>sharplens bench</c>
/// reports each forward time against.
/// </summary>
/// <param name="Flops">Floating-point operations of every weight product, the causal attention (each query against
/// the keys it sees) and the unembedding of the rows that get logits.</param>
/// <param name="WeightBytes">Bytes of every weight matrix the pass multiplies by (the unembedding included; the
/// embedding and positional tables, of which a pass reads only the rows of its tokens, excluded).</param>
public sealed record ForwardCost(double Flops, long WeightBytes)
{
    /// <summary>
    /// The cost of one forward pass of <paramref name="batch"/> sequences of <paramref name="pos"/> tokens through
    /// <paramref name="model"/>, with logits at every position or only the last (<paramref name="logits"/>). Counted
    /// from the model's own weight matrices (every <c>W_*</c> of every block and <c>unembed.W_U</c>), so any family's
    /// shapes count; a sliding attention window is not taken into account (the count is then an upper bound).
    /// </summary>
    /// <param name="model">The model whose weights are counted.</param>
    /// <param name="batch">Sequences in the pass.</param>
    /// <param name="pos">Tokens per sequence.</param>
    /// <param name="logits">Logits at every position, only each prompt's last, or none (no unembedding counted).</param>
    /// <param name="bytesPerWeight">Bytes each stored weight takes: 4 for float32 weights, 2 for bfloat16/float16.</param>
    public static ForwardCost Of(HookedTransformer model, int batch, int pos, LogitsMode logits = LogitsMode.All, int bytesPerWeight = sizeof(float))
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pos, 1);
        long blockWeights = 0, unembedWeights = 0;
        foreach (var (name, tensor) in model.Weights.Named())
        {
            string leaf = name[(name.LastIndexOf('.') + 1)..];
            if (name == "unembed.W_U") unembedWeights += tensor.Length;
            else if (name.StartsWith("blocks.", StringComparison.Ordinal) && leaf.StartsWith("W_", StringComparison.Ordinal))
                blockWeights += tensor.Length;
        }
        var c = model.Config;
        double tokens = (double)batch * pos;
        double logitRows = logits switch { LogitsMode.All => tokens, LogitsMode.Final => batch, _ => 0 };
        // Scores and mixing: a query at position q meets q + 1 keys, d_head multiply-adds each, twice.
        double attention = c.NLayers * (double)batch * c.NHeads * 4.0 * c.DHead * pos * (pos + 1) / 2;
        double flops = 2.0 * tokens * blockWeights + 2.0 * logitRows * unembedWeights + attention;
        return new ForwardCost(flops, (blockWeights + (logitRows > 0 ? unembedWeights : 0)) * bytesPerWeight);
    }

    /// <summary>Seconds the arithmetic takes at <paramref name="fmaPeakGflops"/> (the compute limit).</summary>
    public double ComputeLimitSeconds(double fmaPeakGflops) => Flops / (fmaPeakGflops * 1e9);

    /// <summary>Seconds reading the weights once takes at <paramref name="readGBps"/> (the memory limit).</summary>
    public double MemoryLimitSeconds(double readGBps) => WeightBytes / (readGBps * 1e9);
}
