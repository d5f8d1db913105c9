namespace SharpLens.Analysis.Statistics;

/// <summary>How much two sets share: the overlap measures used to compare circuits (edge sets, node sets).</summary>
public static class SetOverlap
{
    /// <summary>
    /// The Jaccard index |A ∩ B| / |A ∪ B| of the distinct elements of <paramref name="a"/> and <paramref name="b"/>:
    /// 1 for equal sets, 0 for disjoint ones. Two empty sets are equal, so their index is 1.
    /// </summary>
    /// <param name="a">the first set's elements (duplicates count once)</param>
    /// <param name="b">the second set's elements</param>
    /// <param name="comparer">element equality (default: the type's own; ordinal for strings)</param>
    public static double Jaccard<T>(IEnumerable<T> a, IEnumerable<T> b, IEqualityComparer<T>? comparer = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var sa = new HashSet<T>(a, comparer);
        var sb = new HashSet<T>(b, comparer);
        int shared = sa.Count(sb.Contains);
        int union = sa.Count + sb.Count - shared;
        return union == 0 ? 1 : (double)shared / union;
    }
}
