namespace SharpLens.Tokenization;

/// <summary>
/// A batch of token sequences padded on the right to a common length. Right padding with causal
/// attention leaves every real position untouched by the pads; <see cref="Lengths"/> says where each
/// prompt really ends, so final-token metrics read position Lengths[b] - 1.
/// </summary>
public sealed class TokenBatch
{
    /// <summary>[batch, pos] row-major, padded with <see cref="PadId"/>.</summary>
    public int[] Ids { get; }
    /// <summary>Number of sequences (batch).</summary>
    public int Batch { get; }
    /// <summary>Padded length (pos): the longest sequence's length.</summary>
    public int Pos { get; }
    /// <summary>[batch] real length of each sequence.</summary>
    public int[] Lengths { get; }
    /// <summary>The token id written after each shorter sequence's end.</summary>
    public int PadId { get; }

    /// <summary>Right-pads <paramref name="sequences"/> with <paramref name="padId"/> into one [batch, pos] batch;
    /// an empty list or an empty sequence is an <see cref="InvalidInputException"/>.</summary>
    public TokenBatch(IReadOnlyList<IReadOnlyList<int>> sequences, int padId = 50256)
    {
        if (sequences.Count == 0) throw new InvalidInputException("no prompts given: pass at least one prompt");
        Batch = sequences.Count;
        Pos = sequences.Max(s => s.Count);
        if (sequences.Any(s => s.Count == 0)) throw new InvalidInputException("an empty prompt was given: every prompt needs at least one token");
        PadId = padId;
        Ids = new int[Batch * Pos];
        Lengths = new int[Batch];
        for (int b = 0; b < Batch; b++)
        {
            Lengths[b] = sequences[b].Count;
            for (int p = 0; p < Pos; p++) Ids[b * Pos + p] = p < sequences[b].Count ? sequences[b][p] : padId;
        }
    }

    /// <summary>A batch of one sequence (no padding).</summary>
    public static TokenBatch Single(IReadOnlyList<int> ids) => new([ids]);

    /// <summary>Token id of sequence <paramref name="b"/> at position <paramref name="p"/> (a pad past its length).</summary>
    public int this[int b, int p] => Ids[b * Pos + p];

    /// <summary>Index of each sequence's last real token.</summary>
    public int FinalPosition(int b) => Lengths[b] - 1;

    /// <summary>[batch] index of each sequence's last real token.</summary>
    public int[] FinalPositions() => Lengths.Select(l => l - 1).ToArray();

    /// <summary>Whether the sequences differ in length (some rows are padded).</summary>
    public bool IsRagged => Lengths.Any(l => l != Pos);

    /// <summary>Sequence <paramref name="b"/> without padding.</summary>
    public int[] Sequence(int b) => Ids.AsSpan(b * Pos, Lengths[b]).ToArray();

    /// <summary>Every sequence without its padding.</summary>
    public IReadOnlyList<int[]> Sequences() => Enumerable.Range(0, Batch).Select(Sequence).ToList();
}
