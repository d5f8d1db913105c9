using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// The unembedding restricted to a few vocabulary columns (the answer tokens a metric reads): logits[:, j] =
/// x·W_U[:, Tokens[j]] + b_U[Tokens[j]], one float GEMM against the packed columns. Two columns instead of 50,257 is
/// what makes patching and attribution metrics cheap; every "answer columns only" logit in SharpLens comes from here.
/// </summary>
public sealed class UnembedColumns
{
    private readonly PackedMatrix _w;
    private readonly float[] _columns; // [Tokens.Count, d_model]: column j of W_U as a row, for the backward step
    private readonly float[] _b;

    /// <summary>Packs the columns <paramref name="tokens"/> of <paramref name="unembed"/>'s W_U.</summary>
    /// <param name="unembed">the model's unembedding (W_U [d_model, d_vocab], b_U [d_vocab])</param>
    /// <param name="tokens">vocabulary ids, in the order of the output columns</param>
    public UnembedColumns(Unembed unembed, IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(unembed);
        int d = unembed.W_U.Dim(0), vocab = unembed.W_U.Dim(1), n = tokens.Count;
        var w = new float[d * n];
        _columns = new float[n * d];
        var wU = unembed.W_U.Data;
        for (int j = 0; j < n; j++)
        {
            if ((uint)tokens[j] >= (uint)vocab)
                throw new InvalidInputException($"the metric needs token id {tokens[j]}, outside the vocabulary (0..{vocab - 1})");
            for (int i = 0; i < d; i++) w[i * n + j] = _columns[j * d + i] = wU[i * vocab + tokens[j]];
        }
        Tokens = tokens.ToArray();
        _w = PackedMatrix.Pack(w, d, n);
        _b = Tokens.Select(t => unembed.b_U.Data[t]).ToArray();
    }

    /// <summary>The vocabulary ids of the output columns.</summary>
    public IReadOnlyList<int> Tokens { get; }

    /// <summary>Logits of the chosen columns.</summary>
    /// <param name="x">ln_final.hook_normalized rows [rows, d_model]</param>
    /// <param name="rows">number of rows in <paramref name="x"/></param>
    /// <returns>[rows, Tokens.Count]</returns>
    public Tensor Forward(ReadOnlySpan<float> x, int rows)
    {
        var logits = new float[rows * Tokens.Count];
        Forward(x, rows, logits);
        return new Tensor(logits, rows, Tokens.Count);
    }

    /// <summary>Writes the logits of the chosen columns into <paramref name="logits"/>.</summary>
    /// <param name="x">ln_final.hook_normalized rows [rows, d_model]</param>
    /// <param name="rows">number of rows in <paramref name="x"/></param>
    /// <param name="logits">[rows, Tokens.Count], overwritten</param>
    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> logits)
    {
        Gemm.Multiply(x, _w, logits, rows);
        Kernels.AddBiasRows(logits[..(rows * Tokens.Count)], _b);
    }

    /// <summary>The backward step of <see cref="Forward(ReadOnlySpan{float}, int)"/>: d/dx = dLogits·W_colsᵀ, with exactly-zero gradient entries
    /// skipped (a logit difference touches two columns per row).</summary>
    /// <param name="dLogits">d metric / d logits of the chosen columns [rows, Tokens.Count]</param>
    /// <param name="rows">number of rows</param>
    /// <returns>d metric / d ln_final.hook_normalized rows [rows, d_model]</returns>
    public float[] Backward(ReadOnlySpan<float> dLogits, int rows)
    {
        int n = Tokens.Count, d = _columns.Length / Math.Max(1, n);
        if (dLogits.Length != rows * n)
            throw new ShapeMismatchException($"logit gradient has {dLogits.Length} values, expected {rows} rows x {n} columns");
        var dx = new float[rows * d];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
                if (dLogits[r * n + j] is var g && g != 0f)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_columns.AsSpan(j * d, d), g, dx.AsSpan(r * d, d), dx.AsSpan(r * d, d));
        return dx;
    }
}
