using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// Tiny random GPT-2s with the full GPT-2 vocabulary (so text corpora tokenize) for the neuron-index tests, in memory or
/// written as a Hugging Face checkpoint folder (config.json + model.safetensors) for the CLI; and small corpora made here.
/// </summary>
internal static class TinyIndexModel
{
    public static readonly ModelConfig Config = new()
    {
        NLayers = 2, DModel = 16, NHeads = 2, DHead = 8, DMlp = 24, DVocab = 50257, NCtx = 64, ModelName = "tiny-index",
    };

    /// <summary>A processed random model with a GPT-2 tokenizer; std 0.3 so activations are spread out.</summary>
    public static HookedTransformer Create(int seed = 1)
    {
        var raw = RandomWeights.Create(Config, seed, std: 0.3f);
        return new HookedTransformer(Config, WeightProcessing.Process(raw, WeightProcessingOptions.Default), true, new Gpt2Tokenizer());
    }

    /// <summary>Writes a random checkpoint as Hugging Face GPT-2 files; returns the folder.</summary>
    public static string WriteCheckpoint(string folder, int seed = 1) => Support.RandomCheckpoint.Write(folder, Config, seed, std: 0.3f);

    /// <summary>A corpus folder: documents of many lengths (some end exactly at a window boundary, some are one token),
    /// two identical documents (identical windows, so exactly tied activations), a JSON Lines file and a text file.</summary>
    public static string WriteCorpus(string folder, int documents = 6)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(7);
        string[] words = ["the", "cat", "sat", "on", "a", "mat", "while", "they", "'re", "helping", "our", "friend", "Mary", "John", "went",
            "to", "store", "and", "gave", "drink", ".", ",", "We", "are", "1984", "(", ")", "\n"];
        string Text(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => words[random.Next(words.Length)]));
        var lines = new List<string>();
        for (int d = 0; d < documents; d++) lines.Add(System.Text.Json.JsonSerializer.Serialize(new { text = Text(15 + 23 * d), id = d }));
        lines.Add(System.Text.Json.JsonSerializer.Serialize(new { text = "Hi" }));
        lines.Add("");
        string repeated = Text(40);
        lines.Add(System.Text.Json.JsonSerializer.Serialize(new { text = repeated }));
        lines.Add(System.Text.Json.JsonSerializer.Serialize(new { text = repeated }));
        File.WriteAllLines(Path.Combine(folder, "a.jsonl"), lines);
        File.WriteAllText(Path.Combine(folder, "b.txt"), Text(150) + "\n\nThe end.");
        return folder;
    }
}
