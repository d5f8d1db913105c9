namespace SharpLens.Tensors;

/// <summary>One position per sequence out of a [batch, pos, width] tensor (final positions, query rows).</summary>
internal static class SequenceRows
{
    /// <summary>Row <paramref name="rows"/>[b] of each sequence b.</summary>
    /// <param name="x">[batch, pos, width]</param>
    /// <param name="rows">[batch] a position 0 ≤ row &lt; pos per sequence</param>
    /// <returns>[batch, 1, width]</returns>
    public static Tensor Gather(Tensor x, IReadOnlyList<int> rows)
    {
        int batch = x.Dim(0), pos = x.Dim(1), width = x.Dim(2);
        if (rows.Count != batch) throw new ShapeMismatchException($"{rows.Count} rows for a batch of {batch}");
        var gathered = Tensor.Uninitialized(batch, 1, width);
        for (int b = 0; b < batch; b++)
        {
            if ((uint)rows[b] >= (uint)pos) throw new ShapeMismatchException($"row {rows[b]} of sequence {b} is outside 0..{pos - 1}");
            x.Data.AsSpan((b * pos + rows[b]) * width, width).CopyTo(gathered.Data.AsSpan(b * width));
        }
        return gathered;
    }
}
