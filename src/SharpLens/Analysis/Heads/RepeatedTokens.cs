using SharpLens.Tokenization;

namespace SharpLens.Analysis.Heads;

/// <summary>
/// Sequences of random tokens repeated back to back, <c>[BOS, r_1..r_n, r_1..r_n, ...]</c>: the input on which
/// TransformerLens' demos and "In-context Learning and Induction Heads" (Olsson et al. 2022) measure induction. From the
/// second repeat on, every token is predictable only by finding its earlier copy and reading what followed it.
/// </summary>
/// <param name="Tokens">[batch, 1 + period·repeats] (with BOS) or [batch, period·repeats]</param>
/// <param name="Period">n, the length of the repeated segment</param>
/// <param name="Offset">1 when a BOS token leads each sequence, else 0: the position of r_1</param>
public sealed record RepeatedTokens(TokenBatch Tokens, int Period, int Offset)
{
    /// <summary>
    /// <paramref name="batch"/> sequences, each <paramref name="period"/> tokens drawn uniformly from
    /// [<paramref name="low"/>, <paramref name="high"/>) (the BOS id excluded) and repeated <paramref name="repeats"/>
    /// times, led by <paramref name="bos"/> when given; the same arguments give the same tokens.
    /// </summary>
    /// <param name="batch">number of sequences</param>
    /// <param name="period">length of the repeated segment</param>
    /// <param name="repeats">how many times it occurs (at least 2)</param>
    /// <param name="low">smallest token id drawn</param>
    /// <param name="high">one past the largest token id drawn</param>
    /// <param name="bos">the BOS id to lead each sequence with, or null for none</param>
    /// <param name="seed">random seed</param>
    public static RepeatedTokens Random(int batch, int period, int repeats, int low, int high, int? bos, int seed)
    {
        if (batch < 1) throw new InvalidInputException($"repeated tokens need at least one sequence, got {batch}");
        if (period < 1) throw new InvalidInputException($"the repeated segment needs at least one token, got {period}");
        if (repeats < 2) throw new InvalidInputException($"a segment must occur at least twice to be repeated, got {repeats}");
        int choices = high - low - (bos is int b && b >= low && b < high ? 1 : 0);
        if (low < 0 || choices < 1) throw new InvalidInputException($"no token ids to draw from in [{low}, {high}) (BOS excluded)");
        var random = new Random(seed);
        var sequences = new List<IReadOnlyList<int>>(batch);
        for (int s = 0; s < batch; s++)
        {
            var segment = new int[period];
            for (int i = 0; i < period; i++)
            {
                int t = low + random.Next(choices);
                if (bos is int id && t >= id && id >= low) t++;     // skip the BOS id
                segment[i] = t;
            }
            var seq = new List<int>(1 + period * repeats);
            if (bos is int lead) seq.Add(lead);
            for (int r = 0; r < repeats; r++) seq.AddRange(segment);
            sequences.Add(seq);
        }
        return new RepeatedTokens(new TokenBatch(sequences, padId: sequences[0][0]), period, bos is null ? 0 : 1);
    }

    /// <summary>Positions whose token already occurred one period earlier (every position from the second repeat on).</summary>
    public IEnumerable<int> RepeatedPositions() => Enumerable.Range(Offset + Period, Tokens.Pos - Offset - Period);
}
