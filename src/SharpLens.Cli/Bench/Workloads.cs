using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Cli.Bench;

/// <summary>
/// The workloads the performance targets are stated for, shared by <c>sharplens bench</c> and BenchmarkDotNet:
/// the study's experiment-1 batch shape (8 prompts x 8 tokens, clean and corrupted differing from position 2 on).
/// Lives with the CLI (not the core library); the BenchmarkDotNet project compiles this same file.
/// </summary>
internal static class Workloads
{
    /// <summary>Random prompts shaped like experiment 1 for <paramref name="model"/>; deterministic for a seed.</summary>
    public static PatchingInputs Experiment1Shaped(HookedTransformer model, int prompts = 8, int tokens = 8, int seed = 1)
    {
        var random = new Random(seed);
        int vocab = model.Config.DVocab;
        var clean = new List<IReadOnlyList<int>>();
        var corrupted = new List<IReadOnlyList<int>>();
        var answers = new List<(int, int)>();
        for (int b = 0; b < prompts; b++)
        {
            var ids = Enumerable.Range(0, tokens).Select(_ => random.Next(vocab)).ToArray();
            ids[0] = model.Config.BosTokenId;
            clean.Add(ids);
            var other = (int[])ids.Clone();
            other[2] = (ids[2] + 1 + random.Next(vocab - 1)) % vocab;
            corrupted.Add(other);
            answers.Add((random.Next(vocab), random.Next(vocab)));
        }
        return new PatchingInputs(new TokenBatch(clean, model.Config.BosTokenId), new TokenBatch(corrupted, model.Config.BosTokenId),
            new LogitDiffMetric(answers));
    }

    /// <summary>"1x8,8x8" (the --shapes option of bench and compare-onnx) as (prompts, tokens) pairs; anything else is
    /// a one-line error naming the entry.</summary>
    /// <exception cref="InvalidInputException">An entry is not PROMPTSxTOKENS with both at least 1.</exception>
    public static List<(int Prompts, int Tokens)> ParseShapes(string text)
    {
        var shapes = new List<(int, int)>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = entry.Split('x');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int prompts) || !int.TryParse(parts[1], out int tokens) || prompts < 1 || tokens < 1)
                throw new InvalidInputException($"--shapes entry '{entry}' is not PROMPTSxTOKENS with both at least 1 (e.g. 8x128)");
            shapes.Add((prompts, tokens));
        }
        return shapes;
    }
}
