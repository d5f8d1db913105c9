using SharpLens.Analysis.Metrics;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Patching;

/// <summary>Turns a RAW patching grid into the normalized score (patched - corrupted) / (clean - corrupted).</summary>
public static class PatchingNormalization
{
    /// <summary>
    /// Normalizes <paramref name="raw"/> given the per-prompt clean and corrupted baselines ([prompt] each).
    /// With <paramref name="perPromptBaselines"/> false (default, TransformerLens' notebook) every value uses the
    /// mean baselines, so Values stays the mean of PerPrompt; with true, each prompt's PerPrompt values use that
    /// prompt's own baselines and Values uses the mean ones.
    /// </summary>
    public static Grid Normalize(Grid raw, IReadOnlyList<float> clean, IReadOnlyList<float> corrupted, bool perPromptBaselines = false)
    {
        if (clean.Count != corrupted.Count || clean.Count == 0)
            throw new InvalidInputException($"need one clean and one corrupted baseline per prompt, got {clean.Count} and {corrupted.Count}");
        float meanClean = clean.Average(), meanCorrupted = corrupted.Average();
        if (!perPromptBaselines || raw.PerPrompt is null) return PatchingScore.Normalize(raw, meanClean, meanCorrupted);
        int prompts = raw.PerPrompt.Dim(0), cells = raw.Rows.Count * raw.Cols.Count;
        if (prompts != clean.Count)
            throw new InvalidInputException($"the grid has {prompts} prompts but {clean.Count} baselines were given");
        var pp = new float[raw.PerPrompt.Length];
        for (int b = 0; b < prompts; b++)
            PatchingScore.Normalize(raw.PerPrompt.Data.AsSpan(b * cells, cells), clean[b], corrupted[b]).CopyTo(pp, b * cells);
        var values = new Tensor(PatchingScore.Normalize(raw.Values.Data, meanClean, meanCorrupted), raw.Rows.Count, raw.Cols.Count);
        return new Grid(values, raw.Rows, raw.Cols, new Tensor(pp, prompts, raw.Rows.Count, raw.Cols.Count))
        {
            Title = raw.Title, RowTitle = raw.RowTitle, ColTitle = raw.ColTitle,
        };
    }
}
