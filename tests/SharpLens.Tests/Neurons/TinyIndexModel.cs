using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;
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
    public static string WriteCheckpoint(string folder, int seed = 1)
    {
        Directory.CreateDirectory(folder);
        var c = Config;
        var w = RandomWeights.Create(c, seed, std: 0.3f);
        var tensors = new List<(string, Tensor)> { ("transformer.wte.weight", w.W_E), ("transformer.wpe.weight", w.W_pos) };
        for (int l = 0; l < c.NLayers; l++)
        {
            var b = w.Blocks[l];
            int d = c.DModel;
            var cAttn = new Tensor(new float[d * 3 * d], d, 3 * d);
            var bias = new float[3 * d];
            foreach (var (part, weight, bi) in new[] { (0, b.W_Q, b.b_Q), (1, b.W_K, b.b_K), (2, b.W_V, b.b_V) })
                for (int h = 0; h < c.NHeads; h++)
                    for (int e = 0; e < c.DHead; e++)
                    {
                        int col = part * d + h * c.DHead + e;
                        for (int i = 0; i < d; i++) cAttn.Data[i * 3 * d + col] = weight.Data[(h * d + i) * c.DHead + e];
                        bias[col] = bi.Data[h * c.DHead + e];
                    }
            string p = $"transformer.h.{l}.";
            tensors.AddRange([
                (p + "ln_1.weight", b.Ln1W!), (p + "ln_1.bias", b.Ln1B!), (p + "attn.c_attn.weight", cAttn), (p + "attn.c_attn.bias", new Tensor(bias, 3 * d)),
                (p + "attn.c_proj.weight", b.W_O.Reshape(d, d)), (p + "attn.c_proj.bias", b.b_O), (p + "ln_2.weight", b.Ln2W!), (p + "ln_2.bias", b.Ln2B!),
                (p + "mlp.c_fc.weight", b.W_in), (p + "mlp.c_fc.bias", b.b_in), (p + "mlp.c_proj.weight", b.W_out), (p + "mlp.c_proj.bias", b.b_out)]);
        }
        tensors.AddRange([("transformer.ln_f.weight", w.LnFinalW!), ("transformer.ln_f.bias", w.LnFinalB!)]);
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        var config = new Gpt2Config { NLayer = c.NLayers, NHead = c.NHeads, NEmbd = c.DModel, NPositions = c.NCtx, VocabSize = c.DVocab, NInner = c.DMlp };
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        return folder;
    }

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
