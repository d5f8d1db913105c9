using System.Text.Json;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Support;

/// <summary>The golden fixtures written by tests/reference/make_fixtures.py (an independent PyTorch GPT-2).</summary>
public static class Fixtures
{
    public static readonly string[] Models = ["tiny-a", "tiny-b", "tiny-a-f16", "tiny-a-bf16"];

    public static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    public static HookedTransformer Load(string name, bool processed) => ModelLoader.Load(Folder(name),
        new LoadOptions { Processing = processed ? WeightProcessingOptions.Default : WeightProcessingOptions.None });

    public static SafetensorsFile Golden(string name, bool processed) =>
        SafetensorsFile.Open(Path.Combine(Folder(name), processed ? "golden_processed.safetensors" : "golden_raw.safetensors"));

    public sealed record TokenSet(int[][] Clean, int[][] Corrupted, int[][] Answers)
    {
        public TokenBatch CleanBatch => new(Clean.Select(s => (IReadOnlyList<int>)s).ToList(), Clean[0][0]);
        public TokenBatch CorruptedBatch => new(Corrupted.Select(s => (IReadOnlyList<int>)s).ToList(), Clean[0][0]);
        public (int Correct, int Wrong)[] AnswerPairs => Answers.Select(a => (a[0], a[1])).ToArray();
    }

    public static TokenSet Tokens(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(name), "tokens.json")));
        int[][] Read(string key) => doc.RootElement.GetProperty(key).EnumerateArray()
            .Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        return new TokenSet(Read("clean"), Read("corrupted"), Read("answers"));
    }
}
