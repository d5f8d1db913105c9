using SharpLens.Tokenization;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// The position columns of a by-position sweep: their labels and, per column and prompt, the absolute token
/// position they patch (which differs between prompts only with <see cref="Alignment.End"/> on ragged prompts).
/// </summary>
internal sealed class PositionAxis
{
    private readonly int[][] _absolute; // [column][prompt]

    private PositionAxis(int[] columns, string[] labels, int[][] absolute) { Columns = columns; Labels = labels; _absolute = absolute; }

    /// <summary>[columns] the position of each column as a <see cref="PatchSite.Position"/>: absolute (Start) or
    /// counted back from the final token (End, negative).</summary>
    public IReadOnlyList<int> Columns { get; }
    public IReadOnlyList<string> Labels { get; }
    public int Count => _absolute.Length;
    /// <summary>[prompt] absolute position of column <paramref name="column"/>.</summary>
    public int[] Absolute(int column) => _absolute[column];

    public static PositionAxis Build(TokenBatch tokens, PatchingOptions options)
    {
        int minLen = tokens.Lengths.Min();
        bool end = options.Alignment == Alignment.End;
        var columns = options.Positions?.ToArray()
            ?? Enumerable.Range(end ? -minLen : 0, minLen).ToArray();
        if (columns.Length == 0) throw new InvalidInputException("no positions to patch: pass at least one position");
        var labels = new string[columns.Length];
        var absolute = new int[columns.Length][];
        for (int c = 0; c < columns.Length; c++)
        {
            int col = columns[c];
            if (end && col >= 0)
                throw new InvalidInputException($"position {col} with Alignment.End: positions count back from the final token, so use -1 for the final token, -2 for the one before, ...");
            absolute[c] = Resolve(col, tokens);
            string? tok = null;
            if (options.StrTokens is { } str)
            {
                int at = end ? tokens.Lengths[0] + col : col;
                if (at >= 0 && at < str.Count) tok = str[at];
            }
            labels[c] = $"{tok ?? "pos"}_{col}";
        }
        return new PositionAxis(columns, labels, absolute);
    }

    /// <summary>[prompt] the absolute position of <paramref name="position"/> (≥ 0: absolute; negative: counted back
    /// from each prompt's final token) in each prompt of <paramref name="tokens"/>; an error if a prompt lacks it.</summary>
    public static int[] Resolve(int position, TokenBatch tokens)
    {
        bool end = position < 0;
        var absolute = new int[tokens.Batch];
        for (int b = 0; b < tokens.Batch; b++)
        {
            int p = end ? tokens.Lengths[b] + position : position;
            if (p < 0 || p >= tokens.Lengths[b])
                throw new InvalidInputException(
                    $"position {position} does not exist in prompt {b}, which has {tokens.Lengths[b]} tokens: " +
                    (end ? "choose offsets no further back than the shortest prompt" : "choose positions below the shortest prompt's length, or use Alignment.End to count from the final token"));
            absolute[b] = p;
        }
        return absolute;
    }
}
