using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Tests.Discovery;

/// <summary>
/// A 2-layer, 2-head model whose mechanism is set by hand, so every detection and recovery test has a known answer.
/// The residual stream (d_model 64) has one block of coordinates per kind of information: the token (0-11), the position
/// (12-35), "the previous token was t" (36-47) and "predict t" (48-59).
/// <list type="bullet">
/// <item>L0H0, a previous-token head: its query at position p and key at position p − 1 share a direction (QK reads only
/// the position block); its OV copies the attended token into the previous-token block.</item>
/// <item>L0H1, a duplicate-token head: QK matches equal tokens; its OV is zero (it attends but writes nothing).</item>
/// <item>L1H0, an induction head: its query reads the current token, its key the previous-token block written by L0H0
/// (K-composition); its OV copies the attended token into the "predict" block, which W_U reads.</item>
/// <item>L1H1 has small random weights (near-uniform attention, tiny output); the MLPs are zero.</item>
/// </list>
/// Token 11 is BOS. The weights are processed as TransformerLens' from_pretrained would (fold_ln, centring).
/// </summary>
public static class HandBuiltInduction
{
    public const int Vocab = 12, Bos = 11, Ctx = 24, DModel = 64, Heads = 2, DHead = 32;
    private const int TokenBlock = 0, PositionBlock = 12, PreviousBlock = 36, PredictBlock = 48;

    public static ModelConfig Config => new()
    {
        NLayers = 2, DModel = DModel, NHeads = Heads, DHead = DHead, DMlp = 4, DVocab = Vocab, NCtx = Ctx, BosTokenId = Bos, ModelName = "hand-built-induction",
    };

    public static HookedTransformer Create()
    {
        var cfg = Config;
        var random = new Random(5);
        Tensor Zeros(params int[] shape) => Tensor.Zeros(shape);
        Tensor Ones(int n) { var t = Tensor.Zeros(n); t.Data.AsSpan().Fill(1); return t; }
        Tensor Small(params int[] shape)
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Length; i++) t.Data[i] = (float)(random.NextDouble() - 0.5) * 0.04f;
            return t;
        }
        // W[h, d_model, d_head] and W_O[h, d_head, d_model] entries.
        static void Set(Tensor w, int head, int row, int col, float value) => w.Data[(head * w.Dim(1) + row) * w.Dim(2) + col] = value;

        const float positionGain = 3f, tokenGain = 3f, inductionGain = 3f, previousWrite = 0.2f, predictWrite = 0.5f, unembed = 4f;
        var blocks = new BlockWeights[2];
        for (int l = 0; l < 2; l++)
            blocks[l] = new BlockWeights
            {
                Ln1W = Ones(DModel), Ln1B = Zeros(DModel), Ln2W = Ones(DModel), Ln2B = Zeros(DModel),
                W_Q = Zeros(Heads, DModel, DHead), W_K = Zeros(Heads, DModel, DHead), W_V = Zeros(Heads, DModel, DHead),
                b_Q = Zeros(Heads, DHead), b_K = Zeros(Heads, DHead), b_V = Zeros(Heads, DHead),
                W_O = Zeros(Heads, DHead, DModel), b_O = Zeros(DModel),
                W_in = Zeros(DModel, cfg.DMlp), b_in = Zeros(cfg.DMlp), W_out = Zeros(cfg.DMlp, DModel), b_out = Zeros(DModel),
            };
        var l0 = blocks[0];
        for (int p = 0; p < Ctx; p++)
        {
            Set(l0.W_Q, 0, PositionBlock + p, p + 1, positionGain);     // query of position p ...
            Set(l0.W_K, 0, PositionBlock + p, p + 2, positionGain);     // ... meets the key of position p - 1
        }
        for (int t = 0; t < Vocab; t++)
        {
            Set(l0.W_V, 0, TokenBlock + t, t, 1f);
            Set(l0.W_O, 0, t, PreviousBlock + t, previousWrite);
            Set(l0.W_Q, 1, TokenBlock + t, t, tokenGain);
            Set(l0.W_K, 1, TokenBlock + t, t, tokenGain);
        }
        var l1 = blocks[1];
        for (int t = 0; t < Vocab; t++)
        {
            Set(l1.W_Q, 0, TokenBlock + t, t, inductionGain);
            Set(l1.W_K, 0, PreviousBlock + t, t, inductionGain);
            Set(l1.W_V, 0, TokenBlock + t, t, 1f);
            Set(l1.W_O, 0, t, PredictBlock + t, predictWrite);
        }
        foreach (var w in new[] { l1.W_Q, l1.W_K, l1.W_V })
        {
            var noise = Small(DModel, DHead);
            noise.Data.CopyTo(w.Data.AsSpan(DModel * DHead));
        }
        Small(DHead, DModel).Data.CopyTo(l1.W_O.Data.AsSpan(DHead * DModel));

        var wE = Zeros(Vocab, DModel);
        var wPos = Zeros(Ctx, DModel);
        var wU = Zeros(DModel, Vocab);
        for (int t = 0; t < Vocab; t++) { wE.Data[t * DModel + TokenBlock + t] = 1; wU.Data[(PredictBlock + t) * Vocab + t] = unembed; }
        for (int p = 0; p < Ctx; p++) wPos.Data[p * DModel + PositionBlock + p] = 1;
        var raw = new TransformerWeights
        {
            W_E = wE, W_pos = wPos, Blocks = blocks, LnFinalW = Ones(DModel), LnFinalB = Zeros(DModel), W_U = wU, b_U = Zeros(Vocab),
        };
        return new HookedTransformer(cfg, WeightProcessing.Process(raw, WeightProcessingOptions.Default), weightsProcessed: true);
    }
}
