namespace SharpLens.Model.Components;

/// <summary>
/// Rotary positions (TransformerLens' <c>apply_rotary</c>, Hugging Face's <c>apply_rotary_pos_emb</c>): the first
/// rotary_dim dimensions of every query and key head are rotated in pairs by angle position·f_i, the rest pass through.
/// Pairs are (i, i + rotary_dim/2) (GPT-NeoX, Llama, Mistral, Qwen) or (2i, 2i + 1) with <c>rotary_adjacent_pairs</c>
/// (GPT-J); f_i = 1 / rotary_base^(2i/rotary_dim), or Llama-3's scaled frequencies (<c>use_NTK_by_parts_rope</c>: Hugging
/// Face's rope_type "llama3"). Angles are computed in double and rounded once to float.
/// </summary>
internal sealed class RotaryEmbedding
{
    private readonly float[] _cos, _sin; // [n_ctx, rotary_dim / 2]
    private readonly int _half;

    /// <summary>The rotation of a model shaped by <paramref name="config"/> (positional_embedding_type rotary).</summary>
    public RotaryEmbedding(ModelConfig config)
    {
        Dim = config.EffectiveRotaryDim;
        AdjacentPairs = config.RotaryAdjacentPairs;
        _half = Dim / 2;
        var frequencies = Frequencies(config);
        _cos = new float[config.NCtx * _half];
        _sin = new float[config.NCtx * _half];
        for (int p = 0; p < config.NCtx; p++)
            for (int i = 0; i < _half; i++)
            {
                double angle = p * frequencies[i];
                _cos[p * _half + i] = (float)Math.Cos(angle);
                _sin[p * _half + i] = (float)Math.Sin(angle);
            }
    }

    /// <summary>Rotated dimensions per head (rotary_dim).</summary>
    public int Dim { get; }
    /// <summary>Whether pairs are adjacent dimensions (GPT-J) rather than halves (GPT-NeoX).</summary>
    public bool AdjacentPairs { get; }

    /// <summary>f_i for i &lt; rotary_dim / 2: 1 / base^(2i/rotary_dim), then Llama-3's scaling when configured (long
    /// wavelengths divided by factor, short ones kept, a smooth blend between).</summary>
    internal static double[] Frequencies(ModelConfig config)
    {
        int dim = config.EffectiveRotaryDim, half = dim / 2;
        var f = new double[half];
        for (int i = 0; i < half; i++) f[i] = 1.0 / Math.Pow(config.RotaryBase, 2.0 * i / dim);
        if (!config.UseNtkByPartsRope) return f;
        double factor = config.NtkByPartsFactor, low = config.NtkByPartsLowFreqFactor, high = config.NtkByPartsHighFreqFactor;
        double original = config.NtkOriginalCtxLen, lowWavelength = original / low, highWavelength = original / high;
        for (int i = 0; i < half; i++)
        {
            double wavelength = 2 * Math.PI / f[i];
            if (wavelength > lowWavelength) f[i] /= factor;
            else if (wavelength >= highWavelength)
            {
                double smooth = (original / wavelength - low) / (high - low);
                f[i] = (1 - smooth) * f[i] / factor + smooth * f[i];
            }
        }
        return f;
    }

    /// <summary>
    /// Rotates every head of every row in place: row r of <paramref name="x"/> [rows, heads, d_head] is at absolute
    /// position <paramref name="position"/>(r). <paramref name="inverse"/> rotates back by the same angles (the
    /// backward step: the rotation is orthogonal, so its gradient is its inverse).
    /// </summary>
    /// <param name="x">[rows, heads, d_head], rotated in place</param>
    /// <param name="heads">heads per row</param>
    /// <param name="dHead">d_head</param>
    /// <param name="position">absolute position of each row</param>
    /// <param name="inverse">rotate by −angle</param>
    public void Rotate(Span<float> x, int heads, int dHead, Func<int, int> position, bool inverse = false)
    {
        int rows = x.Length / (heads * dHead);
        for (int r = 0; r < rows; r++)
        {
            int p = position(r);
            if ((uint)p >= (uint)(_cos.Length / Math.Max(1, _half)))
                throw new InvalidInputException($"position {p} is beyond the model's context of {_cos.Length / Math.Max(1, _half)} positions: shorten the prompt");
            var cos = _cos.AsSpan(p * _half, _half);
            var sin = _sin.AsSpan(p * _half, _half);
            for (int h = 0; h < heads; h++) RotateHead(x.Slice((r * heads + h) * dHead, dHead), cos, sin, inverse);
        }
    }

    private void RotateHead(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool inverse)
    {
        for (int i = 0; i < _half; i++)
        {
            int a = AdjacentPairs ? 2 * i : i, b = AdjacentPairs ? 2 * i + 1 : i + _half;
            float x1 = head[a], x2 = head[b], c = cos[i], s = inverse ? -sin[i] : sin[i];
            head[a] = x1 * c - x2 * s;
            head[b] = x2 * c + x1 * s;
        }
    }
}
