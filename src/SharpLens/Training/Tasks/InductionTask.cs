namespace SharpLens.Training.Tasks;

/// <summary>
/// <b>induction</b>: BOS, then fresh random tokens in which a few segments are repeated, each second occurrence at a
/// random offset after the first; only the tokens of a second occurrence after its first token count for the loss.
/// <para>Mechanism planted: a previous-token head (each position's residual stream learns which token preceded it) and
/// an induction head whose keys read that through K-composition: at a repeat of token A, the query "A" matches the key
/// "my previous token was A" of the position after the earlier A, and the head copies the token there.</para>
/// <para>Why nothing else works (docs/training.md): tokens are drawn uniformly per sequence from the whole vocabulary
/// but BOS, so no bigram statistic predicts a successor; the segments' lengths, the gap between occurrences and the
/// number of segments vary per sequence, so no fixed positional offset finds the earlier copy (plain [BOS, r, r]
/// repeats can be copied at offset len(r)); a segment's tokens occur nowhere else in the sequence, so the earlier
/// occurrence is unique and "the token after the earlier copy of my token" is the only signal; and repeated segments
/// are fresh random tokens, not a small set of recurring "words" whose bigrams could be memorised or routed through
/// value composition. The mechanism-free baseline on the counted positions is at best uniform over the tokens seen so
/// far (ln of their number), far above what an induction circuit reaches.</para>
/// </summary>
public sealed class InductionTask : TrainingTask
{
    /// <summary>An induction task of sequences of <paramref name="sequenceLength"/> tokens over a vocabulary of
    /// <paramref name="dVocab"/> ids whose BOS is <paramref name="bosTokenId"/>.</summary>
    /// <param name="sequenceLength">tokens per sequence, BOS included (at least 16)</param>
    /// <param name="dVocab">the model's vocabulary size</param>
    /// <param name="bosTokenId">the BOS id, never drawn as a random token</param>
    public InductionTask(int sequenceLength, int dVocab, int bosTokenId)
    {
        if (sequenceLength < 16) throw new InvalidInputException($"the induction task needs sequences of at least 16 tokens (got {sequenceLength}): raise n_ctx");
        if (dVocab < 4 * sequenceLength) throw new InvalidInputException($"the induction task needs d_vocab of at least 4 x the sequence length ({4 * sequenceLength}) so tokens rarely recur by chance; d_vocab is {dVocab}");
        SequenceLength = sequenceLength;
        DVocab = dVocab;
        BosTokenId = bosTokenId;
        MaxSegmentLength = Math.Max(4, sequenceLength / 3);
    }

    /// <inheritdoc/>
    public override string Name => "induction";
    /// <inheritdoc/>
    public override int SequenceLength { get; }
    /// <summary>The vocabulary size.</summary>
    public int DVocab { get; }
    /// <summary>The BOS id.</summary>
    public int BosTokenId { get; }
    /// <summary>Shortest repeated segment (tokens).</summary>
    public int MinSegmentLength => 3;
    /// <summary>Longest repeated segment (a third of the sequence, at least 4).</summary>
    public int MaxSegmentLength { get; }

    /// <inheritdoc/>
    public override TrainingBatch TrainBatch(long seed, long index, int size) => Batch(new DeterministicRandom(seed, stream: 2, index), size);

    /// <inheritdoc/>
    public override TrainingBatch EvalBatch(long seed, long index, int size) => Batch(new DeterministicRandom(seed, stream: 3, index), size);

    /// <inheritdoc/>
    public override string Describe() =>
        $"induction: {SequenceLength} tokens (BOS {BosTokenId}), 1-4 repeated segments of {MinSegmentLength}-{MaxSegmentLength} random tokens at random offsets; loss on repeats after their first token";

    private TrainingBatch Batch(DeterministicRandom rng, int size)
    {
        var sequences = new int[size][];
        var mask = new float[size * SequenceLength];
        for (int b = 0; b < size; b++) sequences[b] = Sequence(ref rng, mask.AsSpan(b * SequenceLength, SequenceLength));
        return new TrainingBatch(new Tokenization.TokenBatch(sequences, BosTokenId), mask);
    }

    /// <summary>One sequence: segments placed first (each copy at a random free place after its original), the rest
    /// filled with random tokens that differ from every segment token; <paramref name="mask"/> marks the predictable ones.</summary>
    private int[] Sequence(ref DeterministicRandom rng, Span<float> mask)
    {
        int n = SequenceLength;
        var seq = new int[n];
        var taken = new bool[n];
        taken[0] = true;
        seq[0] = BosTokenId;
        var used = new HashSet<int>();
        int segments = rng.Between(1, 4);
        for (int s = 0; s < segments; s++)
        {
            // Up to 20 tries to place a segment (and its copy) in free space; a crowded sequence simply has fewer.
            for (int attempt = 0; attempt < 20; attempt++)
            {
                int len = rng.Between(MinSegmentLength, MaxSegmentLength);
                int first = rng.Between(1, n - 2 * len - 1 < 1 ? 1 : n - 2 * len - 1);
                int second = first + len + rng.Between(1, Math.Max(1, n - first - 2 * len));
                if (second + len > n || !Free(taken, first, len) || !Free(taken, second, len)) continue;
                for (int i = 0; i < len; i++)
                {
                    int token;
                    do token = rng.Next(DVocab); while (token == BosTokenId || !used.Add(token));
                    seq[first + i] = seq[second + i] = token;
                    taken[first + i] = taken[second + i] = true;
                    if (i > 0) mask[second + i] = 1;
                }
                break;
            }
        }
        for (int p = 1; p < n; p++)
        {
            if (taken[p]) continue;
            int token;
            do token = rng.Next(DVocab); while (token == BosTokenId || used.Contains(token));
            seq[p] = token;
        }
        return seq;
    }

    private static bool Free(bool[] taken, int start, int len)
    {
        for (int i = start; i < start + len; i++) if (taken[i]) return false;
        return true;
    }
}
