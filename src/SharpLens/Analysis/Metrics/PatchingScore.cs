using System.Globalization;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Metrics;

/// <summary>
/// Normalized patching score (patched - corrupted) / (clean - corrupted): 1 means patching restored the clean
/// behaviour, 0 means it did nothing beyond the corrupted run.
/// </summary>
public static class PatchingScore
{
    /// <summary>(patched - corrupted) / (clean - corrupted). Throws <see cref="InvalidInputException"/> when
    /// clean == corrupted (or either is not finite).</summary>
    public static float Normalize(float patched, float clean, float corrupted)
    {
        double denom = Denominator(clean, corrupted);
        return (float)((patched - (double)corrupted) / denom);
    }

    /// <summary>Normalizes every element of <paramref name="patched"/> against one clean/corrupted baseline.</summary>
    public static float[] Normalize(ReadOnlySpan<float> patched, float clean, float corrupted)
    {
        double denom = Denominator(clean, corrupted);
        var result = new float[patched.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)((patched[i] - (double)corrupted) / denom);
        return result;
    }

    /// <summary>Per-prompt normalization: element i uses clean[i] and corrupted[i].</summary>
    public static float[] Normalize(ReadOnlySpan<float> patched, ReadOnlySpan<float> clean, ReadOnlySpan<float> corrupted)
    {
        if (clean.Length != patched.Length || corrupted.Length != patched.Length)
            throw new InvalidInputException($"patched ({patched.Length}), clean ({clean.Length}) and corrupted ({corrupted.Length}) scores must have one entry per prompt");
        var result = new float[patched.Length];
        for (int i = 0; i < result.Length; i++) result[i] = Normalize(patched[i], clean[i], corrupted[i]);
        return result;
    }

    /// <summary>Normalizes a patching grid's values and per-prompt values against one (mean) clean/corrupted
    /// baseline; since the map is linear, the mean of the normalized per-prompt values is the normalized mean.</summary>
    public static Grid Normalize(Grid patched, float clean, float corrupted)
    {
        var values = new Tensor(Normalize(patched.Values.Data, clean, corrupted), (int[])patched.Values.Shape.Clone());
        Tensor? pp = patched.PerPrompt is null ? null
            : new Tensor(Normalize(patched.PerPrompt.Data, clean, corrupted), (int[])patched.PerPrompt.Shape.Clone());
        return new Grid(values, patched.Rows, patched.Cols, pp)
        {
            Title = patched.Title, RowTitle = patched.RowTitle, ColTitle = patched.ColTitle,
        };
    }

    private static double Denominator(float clean, float corrupted)
    {
        if (!float.IsFinite(clean) || !float.IsFinite(corrupted))
            throw new InvalidInputException($"clean ({clean.ToString(CultureInfo.InvariantCulture)}) and corrupted ({corrupted.ToString(CultureInfo.InvariantCulture)}) scores must be finite to normalize a patching score");
        double denom = clean - (double)corrupted;
        if (denom == 0)
            throw new InvalidInputException($"clean and corrupted scores are equal ({clean.ToString(CultureInfo.InvariantCulture)}): the normalized patching score is undefined; choose prompts where the metric differs");
        return denom;
    }
}
