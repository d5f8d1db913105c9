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
}
