using SharpLens.Analysis;
using SharpLens.Analysis.Heads;
using SharpLens.Analysis.Weights;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Discovery;

/// <summary>TransformerLens' head detector and the repeated-token scores, on hand-written patterns and on a model whose
/// heads are set by hand (<see cref="HandBuiltInduction"/>).</summary>
public class HeadDetectionTests
{
    private static float[,] Square(float[] flat, int n)
    {
        var m = new float[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i, j] = flat[i * n + j];
        return m;
    }

    [Fact]
    public void DetectionPatternsAreTransformerLensOnes()
    {
        // tokens: BOS 7 3 7 7 5 3 (position 0 is BOS = 9)
        int[] tokens = [9, 7, 3, 7, 7, 5, 3];
        int n = tokens.Length;
        var prev = Square(DetectionPatterns.PreviousToken(n), n);
        for (int q = 0; q < n; q++) for (int k = 0; k < n; k++) Assert.Equal(k == q - 1 ? 1f : 0f, prev[q, k]);

        var dup = Square(DetectionPatterns.DuplicateToken(tokens), n);
        var expectedDup = new (int Q, int K)[] { (3, 1), (4, 1), (4, 3), (6, 2) };
        for (int q = 0; q < n; q++) for (int k = 0; k < n; k++) Assert.Equal(expectedDup.Contains((q, k)) ? 1f : 0f, dup[q, k]);

        // induction = duplicate shifted one key right, first column zero, lower triangle: (q, k+1) for each (q, k) above,
        // including (4, 4): the copy of token 7 at position 3 is followed by position 4 itself.
        var ind = Square(DetectionPatterns.Induction(tokens), n);
        var expectedInd = new (int Q, int K)[] { (3, 2), (4, 2), (4, 4), (6, 3) };
        for (int q = 0; q < n; q++) for (int k = 0; k < n; k++) Assert.Equal(expectedInd.Contains((q, k)) ? 1f : 0f, ind[q, k]);
    }

    [Fact]
    public void HeadTypeNamesParseBothWays()
    {
        foreach (var type in DetectionPatterns.All) Assert.Equal(type, DetectionPatterns.Parse(DetectionPatterns.Name(type)));
        Assert.Equal(HeadType.Induction, DetectionPatterns.Parse("induction"));
        var e = Assert.Throws<InvalidInputException>(() => DetectionPatterns.Parse("copying_head"));
        Assert.Contains("previous_token_head, duplicate_token_head, induction_head", e.Message);
    }

    [Fact]
    public void ScoresFollowTransformerLensMulAndAbs()
    {
        // A 3x3 pattern: row 0 all on BOS; row 1 0.5/0.5; row 2 0.2/0.6/0.2. Detection: previous token.
        float[] attention = [1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.6f, 0.2f];
        var detection = DetectionPatterns.PreviousToken(3);
        var mul = new HeadDetectionOptions();
        // mul: Σ a·d / Σ a = (0.5 + 0.6) / 3
        Assert.Equal(1.1 / 3, HeadDetector.Score(attention, detection, 3, mul), 6);
        // exclude_bos zeroes column 0 in both sums, the (1, 0) match included: 0.6 / (0.5 + 0.6 + 0.2)
        Assert.Equal(0.6 / 1.3, HeadDetector.Score(attention, detection, 3, mul with { ExcludeBos = true }), 6);
        // exclude_current_token zeroes the diagonal (1, 0.5 and 0.2): (0.5 + 0.6) / (0.5 + 0.2 + 0.6)
        Assert.Equal(1.1 / (0.5 + 0.2 + 0.6), HeadDetector.Score(attention, detection, 3, mul with { ExcludeCurrentToken = true }), 6);
        // abs: 1 - round(Σ|a - d| / n, 3); Σ|a - d| = 1 + (0.5 + 0.5) + (0.2 + 0.4 + 0.2) = 2.8 -> 1 - 0.933
        var abs = new HeadDetectionOptions { ErrorMeasure = DetectionErrorMeasure.Abs };
        Assert.Equal(1 - 0.933, HeadDetector.Score(attention, detection, 3, abs), 9);
        // with exclude_bos the first column drops out: Σ = 0 + 0.5 + 0.4 + 0.2 + ... = (0.5) + (0.4 + 0.2) = 1.1 -> 1 - 0.367
        Assert.Equal(1 - 0.367, HeadDetector.Score(attention, detection, 3, abs with { ExcludeBos = true }), 9);
        // the caller's pattern is left as it was (TransformerLens zeroes it in place)
        Assert.Equal(1f, attention[0]);
    }

    private static IReadOnlyList<IReadOnlyList<int>> Sequences()
    {
        var random = new Random(3);
        var list = new List<IReadOnlyList<int>>();
        for (int s = 0; s < 4; s++)
        {
            var seq = new List<int> { HandBuiltInduction.Bos };
            var segment = Enumerable.Range(0, 8).Select(_ => random.Next(HandBuiltInduction.Bos)).ToArray();
            seq.AddRange(segment); seq.AddRange(segment);
            list.Add(seq);
        }
        return list;
    }

    [Fact]
    public void DetectHeadFindsTheHeadsSetByHand()
    {
        var model = HandBuiltInduction.Create();
        var sequences = Sequences();
        var prev = HeadDetector.Detect(model, sequences, HeadType.PreviousToken);
        Assert.Equal((0, 0), Top(prev));
        Assert.True(prev[0, 0] > 0.9f, $"L0H0 previous-token score {prev[0, 0]}");
        var dup = HeadDetector.Detect(model, sequences, HeadType.DuplicateToken, new HeadDetectionOptions { ExcludeCurrentToken = true });
        Assert.Equal((0, 1), Top(dup));
        var ind = HeadDetector.Detect(model, sequences, HeadType.Induction);
        Assert.Equal((1, 0), Top(ind));
        // "mul" divides by all the head's attention, the first repeat's queries (no copy to find) included, so even a
        // perfect induction head scores at most the share of queries that have a copy.
        Assert.True(ind[1, 0] > 0.9f * InductionBound(sequences), $"L1H0 induction score {ind[1, 0]}, bound {InductionBound(sequences)}");
        Assert.Equal(sequences.Count, ind.PerPrompt!.Dim(0));
        // The list score is the mean of single-sequence runs.
        float mean = (float)sequences.Average(s => HeadDetector.Detect(model, [s], HeadType.Induction)[1, 0]);
        Assert.Equal(mean, ind[1, 0], 5);
    }

    [Fact]
    public void AHeadSubsetScoresOnlyThoseHeadsAndTheRestMinusOne()
    {
        var model = HandBuiltInduction.Create();
        var grid = HeadDetector.Detect(model, Sequences(), HeadType.Induction, new HeadDetectionOptions { Heads = [new HeadId(1, 0)] });
        Assert.Equal(-1f, grid[0, 0]); Assert.Equal(-1f, grid[0, 1]); Assert.Equal(-1f, grid[1, 1]);
        Assert.True(grid[1, 0] > 0.9f * InductionBound(Sequences()));
        var e = Assert.Throws<InvalidInputException>(() => HeadDetector.Detect(model, Sequences(), HeadType.Induction, new HeadDetectionOptions { Heads = [new HeadId(2, 0)] }));
        Assert.Contains("head L2H0 does not exist", e.Message);
    }

    [Fact]
    public void BadSequencesAndPatternsAreOneLineErrors()
    {
        var model = HandBuiltInduction.Create();
        Assert.Contains("needs 2 to 24", Assert.Throws<InvalidInputException>(() => HeadDetector.Detect(model, [[HandBuiltInduction.Bos]], HeadType.PreviousToken)).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<InvalidInputException>(() => HeadDetector.Detect(model, [[11, 40]], HeadType.PreviousToken)).Message);
        var upper = Assert.Throws<InvalidInputException>(() => HeadDetector.Detect(model, [[11, 1, 2]], _ => [0, 1, 0, 0, 0, 0, 0, 0, 0]));
        Assert.Contains("lower triangular", upper.Message);
        Assert.Contains("expected [3, 3]", Assert.Throws<InvalidInputException>(() => HeadDetector.Detect(model, [[11, 1, 2]], _ => [1])).Message);
    }

    [Fact]
    public void RandomRepeatedTokensAreBosAndOneSegmentRepeated()
    {
        var tokens = RepeatedTokens.Random(batch: 6, period: 10, repeats: 3, low: 0, high: HandBuiltInduction.Vocab, bos: HandBuiltInduction.Bos, seed: 1);
        Assert.Equal(31, tokens.Tokens.Pos);
        for (int b = 0; b < tokens.Tokens.Batch; b++)
        {
            var seq = tokens.Tokens.Sequence(b);
            Assert.Equal(HandBuiltInduction.Bos, seq[0]);
            Assert.DoesNotContain(HandBuiltInduction.Bos, seq[1..]);
            Assert.Equal(seq[1..11], seq[11..21]);
            Assert.Equal(seq[1..11], seq[21..31]);
        }
        Assert.Equal(Enumerable.Range(11, 20), tokens.RepeatedPositions());
        Assert.Equal(tokens.Tokens.Ids, RepeatedTokens.Random(6, 10, 3, 0, HandBuiltInduction.Vocab, HandBuiltInduction.Bos, seed: 1).Tokens.Ids);
    }

    [Fact]
    public void RepeatedTokenScoresFindTheHeadsSetByHand()
    {
        // Segments of distinct tokens, so each repeated token has exactly one earlier copy to attend to (random draws
        // from an 11-token vocabulary repeat within a segment, and a perfect induction head then splits its attention).
        var random = new Random(2);
        var sequences = Enumerable.Range(0, 6).Select(_ =>
        {
            var segment = Enumerable.Range(0, HandBuiltInduction.Bos).OrderBy(_ => random.Next()).Take(10).ToArray();
            return (IReadOnlyList<int>)[HandBuiltInduction.Bos, .. segment, .. segment];
        }).ToList();
        var model = HandBuiltInduction.Create();
        var scores = RepeatedTokenScores.Compute(model, new RepeatedTokens(new TokenBatch(sequences, padId: 0), Period: 10, Offset: 1));
        Assert.Equal((0, 0), Top(scores.PreviousToken));
        Assert.Equal((1, 0), Top(scores.Induction));
        Assert.True(scores.Induction[1, 0] > 0.9f, $"induction score {scores.Induction[1, 0]}");
        Assert.True(scores.PreviousToken[0, 0] > 0.9f, $"previous-token score {scores.PreviousToken[0, 0]}");
        // The duplicate-token head splits its attention between the earlier copy and itself.
        Assert.Equal((0, 1), Top(scores.DuplicateToken));
        Assert.True(scores.DuplicateToken[0, 1] > 0.3f, $"duplicate-token score {scores.DuplicateToken[0, 1]}");
        Assert.Equal(6, scores.Induction.PerPrompt!.Dim(0));
    }

    [Fact]
    public void KCompositionIsStrongestBetweenThePreviousTokenAndInductionHeads()
    {
        var model = HandBuiltInduction.Create();
        var k = CompositionScores.All(model, CompositionKind.K);
        var pairs = new[] { (0, 0), (0, 1) }.SelectMany(left => new[] { (1, 0), (1, 1) }.Select(right => (left, right, k[left, right]))).ToList();
        var best = pairs.MaxBy(p => p.Item3);
        Assert.Equal(((0, 0), (1, 0)), (best.left, best.right));
        Assert.Equal(CompositionScores.Between(model, (0, 0), (1, 0), CompositionKind.K), k[(0, 0), (1, 0)], 4);
        // The induction head's query reads the token, not L0H0's output: Q-composition between them is weaker.
        Assert.True(CompositionScores.Between(model, (0, 0), (1, 0), CompositionKind.Q) < k[(0, 0), (1, 0)] / 2);
    }

    /// <summary>Mean over sequences of the share of query rows whose induction detection row has a 1.</summary>
    private static float InductionBound(IReadOnlyList<IReadOnlyList<int>> sequences) => (float)sequences.Average(s =>
    {
        var d = DetectionPatterns.Induction(s);
        int n = s.Count;
        return Enumerable.Range(0, n).Count(q => d.AsSpan(q * n, n).IndexOfAnyExcept(0f) >= 0) / (double)n;
    });

    private static (int, int) Top(Grid grid) { var c = grid.Largest(1)[0]; return (c.Row, c.Col); }
}
