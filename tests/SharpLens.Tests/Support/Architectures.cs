using SharpLens.Model;

namespace SharpLens.Tests.Support;

/// <summary>
/// Tiny configurations of every kind of block the components compose, for tests that must hold on each: GPT-2 (the
/// original), GPT-NeoX (parallel residual, partial rotary, exact gelu) and its sequential form, GPT-J-style adjacent
/// rotary pairs, Llama (RMSNorm, grouped-query attention, gated silu MLP, Llama-3 frequency scaling with all three
/// regimes), Qwen3 (q/k norm, d_head ≠ d_model / n_heads), Mistral (sliding window) and an attention-only model.
/// </summary>
public static class Architectures
{
    /// <summary>Every name <see cref="Get"/> knows.</summary>
    public static readonly string[] Names = ["gpt2", "neox", "neox-sequential", "gptj", "llama", "qwen3", "mistral", "attn-only"];

    /// <summary>xunit data: one row per architecture.</summary>
    public static TheoryData<string> All()
    {
        var data = new TheoryData<string>();
        foreach (var n in Names) data.Add(n);
        return data;
    }

    private static readonly ModelConfig Base = new() { NLayers = 2, DModel = 16, NHeads = 4, DHead = 4, DMlp = 24, DVocab = 29, NCtx = 12, ModelName = "tiny" };

    /// <summary>The configuration called <paramref name="name"/>.</summary>
    public static ModelConfig Get(string name) => name switch
    {
        "gpt2" => Base,
        "neox" => Base with { ParallelAttnMlp = true, PositionalEmbeddingType = "rotary", RotaryDim = 2, ActFn = "gelu", RotaryBase = 100f },
        "neox-sequential" => Base with { PositionalEmbeddingType = "rotary", RotaryDim = 4, ActFn = "gelu" },
        "gptj" => Base with { ParallelAttnMlp = true, PositionalEmbeddingType = "rotary", RotaryDim = 4, RotaryAdjacentPairs = true, ActFn = "gelu_new" },
        "llama" => Base with
        {
            NormalizationType = "RMS", PositionalEmbeddingType = "rotary", NKeyValueHeads = 2, GatedMlp = true, ActFn = "silu",
            DHead = 8, NHeads = 4, UseNtkByPartsRope = true, NtkByPartsFactor = 8, NtkByPartsLowFreqFactor = 1,
            NtkByPartsHighFreqFactor = 4, NtkOriginalCtxLen = 64,
        },
        "qwen3" => Base with
        {
            NormalizationType = "RMS", PositionalEmbeddingType = "rotary", NHeads = 4, NKeyValueHeads = 2, DHead = 6, GatedMlp = true,
            ActFn = "silu", UseQkNorm = true, RotaryBase = 1000f,
        },
        "mistral" => Base with
        {
            NormalizationType = "RMS", PositionalEmbeddingType = "rotary", NKeyValueHeads = 2, GatedMlp = true, ActFn = "silu",
            UseLocalAttn = true, WindowSize = 3, AttnTypes = ["local", "local"],
        },
        "attn-only" => Base with { AttnOnly = true, DMlp = 0 },
        _ => throw new ArgumentException($"unknown architecture {name}"),
    };
}
