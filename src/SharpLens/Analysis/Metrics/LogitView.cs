using SharpLens.Tensors;

namespace SharpLens.Analysis.Metrics;

/// <summary>
/// Reads final-position logits by vocabulary id, whether the tensor holds the full vocabulary
/// ([batch, d_vocab]) or only the columns a metric asked for ([batch, NeededTokens.Count], in that order).
/// This is what lets every <see cref="IMetric"/> work on either form.
/// </summary>
/// <remarks>
/// Rule: when <c>neededTokens</c> is non-null and the tensor's width equals <c>neededTokens.Count</c>, the
/// tensor is read as compact (column <c>j</c> holds token <c>neededTokens[j]</c>); otherwise it is read as the
/// full vocabulary (column = token id). The two readings agree whenever the needed tokens are 0..Count-1 in order,
/// so the rule is only ambiguous for a toy vocabulary no larger than the needed list; a fast patching engine
/// must therefore pass exactly the needed columns in the order given.
/// </remarks>
public sealed class LogitView
{
    private readonly Dictionary<int, int>? _columnOf;

    /// <summary>The underlying [batch, columns] tensor.</summary>
    public Tensor Logits { get; }
    /// <summary>Number of prompts (rows).</summary>
    public int Batch { get; }
    /// <summary>True when the tensor holds the whole vocabulary (column = token id).</summary>
    public bool IsFull => _columnOf is null;

    private LogitView(Tensor logits, Dictionary<int, int>? columnOf)
    {
        Logits = logits; Batch = logits.Dim(0); _columnOf = columnOf;
    }

    /// <summary>Wraps <paramref name="logits"/> [batch, d_vocab] or [batch, neededTokens.Count].</summary>
    public static LogitView Create(Tensor logits, IReadOnlyList<int>? neededTokens = null)
    {
        if (logits.Rank != 2)
            throw new ShapeMismatchException($"final logits must be [batch, d_vocab] (or [batch, needed tokens]), got {logits.ShapeString}");
        if (neededTokens is not null && logits.Dim(1) == neededTokens.Count)
        {
            var map = new Dictionary<int, int>(neededTokens.Count);
            for (int j = 0; j < neededTokens.Count; j++) map.TryAdd(neededTokens[j], j);
            return new LogitView(logits, map);
        }
        return new LogitView(logits, null);
    }

    /// <summary>Column of <paramref name="tokenId"/> in <see cref="Logits"/>; throws when the view lacks it.</summary>
    public int ColumnOf(int tokenId)
    {
        if (_columnOf is null)
        {
            if ((uint)tokenId >= (uint)Logits.Dim(1))
                throw new InvalidInputException($"token id {tokenId} is outside the vocabulary of size {Logits.Dim(1)}; check the answer token ids");
            return tokenId;
        }
        if (!_columnOf.TryGetValue(tokenId, out int col))
            throw new InvalidInputException($"token id {tokenId} is not among the {_columnOf.Count} columns this compact logit tensor holds; list it in the metric's NeededTokens");
        return col;
    }

    /// <summary>Logit of token <paramref name="tokenId"/> for prompt <paramref name="prompt"/>.</summary>
    public float this[int prompt, int tokenId] => Logits.Data[prompt * Logits.Dim(1) + ColumnOf(tokenId)];

    /// <summary>Throws unless the view holds the full vocabulary (needed by softmax-based metrics).</summary>
    internal void RequireFull(string metric)
    {
        if (!IsFull)
            throw new InvalidInputException($"{metric} needs the full vocabulary distribution, but got a compact logit tensor {Logits.ShapeString}");
    }
}
