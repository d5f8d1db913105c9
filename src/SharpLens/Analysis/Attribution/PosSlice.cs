using SharpLens.Tokenization;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// Which sequence position each prompt is read at (TransformerLens' pos_slice, restricted to one position per
/// prompt so that every stack is [components, batch, d_model]). With right-padded ragged batches use
/// <see cref="Final"/>: each prompt's last real token, <see cref="TokenBatch.FinalPosition"/>.
/// </summary>
public sealed class PosSlice
{
    private readonly int? _single;
    private readonly int[]? _perPrompt;

    private PosSlice(int? single, int[]? perPrompt) { _single = single; _perPrompt = perPrompt; }

    /// <summary>The same position for every prompt; negative counts back from the padded end (-1 = last position, as TL's pos_slice=-1).</summary>
    public static PosSlice At(int position) => new(position, null);

    /// <summary>One position per prompt (e.g. each prompt's final real token).</summary>
    public static PosSlice PerPrompt(IReadOnlyList<int> positions) => new(null, positions.ToArray());

    /// <summary>Each prompt's final real position (Lengths[b] - 1): the position a next-token logit difference is read at.</summary>
    public static PosSlice Final(TokenBatch tokens) => new(null, tokens.FinalPositions());

    /// <summary>The position of every prompt in a cache of <paramref name="batch"/> prompts padded to <paramref name="pos"/>.</summary>
    public int[] Resolve(int batch, int pos)
    {
        if (_perPrompt is not null)
        {
            if (_perPrompt.Length != batch)
                throw new InvalidInputException($"{_perPrompt.Length} positions given for a cache of {batch} prompts: give one position per prompt");
            foreach (int p in _perPrompt)
                if ((uint)p >= (uint)pos)
                    throw new InvalidInputException($"position {p} is outside the cached sequence length {pos}");
            return (int[])_perPrompt.Clone();
        }
        int at = _single!.Value < 0 ? pos + _single.Value : _single.Value;
        if ((uint)at >= (uint)pos)
            throw new InvalidInputException($"position {_single} is outside the cached sequence length {pos}");
        return Enumerable.Repeat(at, batch).ToArray();
    }

    /// <summary>The position as written in labels: one index, or "per-prompt [...]" for per-prompt positions.</summary>
    public override string ToString() => _perPrompt is not null ? $"per-prompt [{string.Join(", ", _perPrompt)}]" : $"{_single}";
}
