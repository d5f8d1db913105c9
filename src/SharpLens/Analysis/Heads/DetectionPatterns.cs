namespace SharpLens.Analysis.Heads;

/// <summary>The head types TransformerLens' <c>head_detector</c> knows by name (its <c>HEAD_NAMES</c>).</summary>
public enum HeadType
{
    /// <summary><c>previous_token_head</c>: each position attends to the position before it.</summary>
    PreviousToken,
    /// <summary><c>duplicate_token_head</c>: each position attends to earlier positions holding the same token.</summary>
    DuplicateToken,
    /// <summary><c>induction_head</c>: each position attends to the position after an earlier copy of its token.</summary>
    Induction,
}

/// <summary>
/// The detection patterns of TransformerLens' <c>head_detector</c>: for a sequence of n tokens, an [n, n] lower-
/// triangular 0/1 matrix (query row, key column) marking where a head of that type attends.
/// <list type="bullet">
/// <item><c>get_previous_token_head_detection_pattern</c>: 1 at (q, q−1).</item>
/// <item><c>get_duplicate_token_head_detection_pattern</c>: 1 at (q, k) for k &lt; q with tokens[k] = tokens[q].</item>
/// <item><c>get_induction_head_detection_pattern</c>: the duplicate pattern shifted one key to the right: 1 at (q, k) for
/// 1 ≤ k ≤ q with tokens[k−1] = tokens[q] and k−1 &lt; q, i.e. the token after an earlier copy (k = q when the copy
/// is the token just before q, as there).</item>
/// </list>
/// </summary>
public static class DetectionPatterns
{
    /// <summary>TransformerLens' name of a head type (<c>previous_token_head</c>, ...).</summary>
    public static string Name(HeadType type) => type switch
    {
        HeadType.PreviousToken => "previous_token_head",
        HeadType.DuplicateToken => "duplicate_token_head",
        HeadType.Induction => "induction_head",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown head type"),
    };

    /// <summary>Every head type, in TransformerLens' order.</summary>
    public static IReadOnlyList<HeadType> All { get; } = [HeadType.PreviousToken, HeadType.DuplicateToken, HeadType.Induction];

    /// <summary>The head type called <paramref name="name"/> (TransformerLens' name, or the same without
    /// <c>_head</c>), or a one-line error listing the names.</summary>
    public static HeadType Parse(string name)
    {
        string n = name.Trim();
        foreach (var type in All)
            if (n == Name(type) || n == Name(type)[..^"_head".Length]) return type;
        throw new InvalidInputException($"unknown head type '{name}': use {string.Join(", ", All.Select(Name))}");
    }

    /// <summary>The detection pattern of <paramref name="type"/> for <paramref name="tokens"/>: [n, n] row-major.</summary>
    /// <param name="type">the head type</param>
    /// <param name="tokens">[n] the sequence the model reads (with its BOS, as TransformerLens' to_tokens gives it)</param>
    public static float[] For(HeadType type, IReadOnlyList<int> tokens) => type switch
    {
        HeadType.PreviousToken => PreviousToken(tokens.Count),
        HeadType.DuplicateToken => DuplicateToken(tokens),
        HeadType.Induction => Induction(tokens),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown head type"),
    };

    /// <summary>1 at (q, q−1) for q ≥ 1: [n, n].</summary>
    public static float[] PreviousToken(int n)
    {
        var pattern = new float[n * n];
        for (int q = 1; q < n; q++) pattern[q * n + q - 1] = 1;
        return pattern;
    }

    /// <summary>1 at (q, k) for every earlier position k &lt; q holding the same token: [n, n].</summary>
    public static float[] DuplicateToken(IReadOnlyList<int> tokens)
    {
        int n = tokens.Count;
        var pattern = new float[n * n];
        for (int q = 0; q < n; q++)
            for (int k = 0; k < q; k++)
                if (tokens[k] == tokens[q]) pattern[q * n + k] = 1;
        return pattern;
    }

    /// <summary>1 at (q, k) for 1 ≤ k ≤ q whenever position k−1 &lt; q holds q's token: [n, n].</summary>
    public static float[] Induction(IReadOnlyList<int> tokens)
    {
        int n = tokens.Count;
        var pattern = new float[n * n];
        for (int q = 0; q < n; q++)
            for (int k = 1; k <= q; k++)
                if (tokens[k - 1] == tokens[q]) pattern[q * n + k] = 1;
        return pattern;
    }
}
