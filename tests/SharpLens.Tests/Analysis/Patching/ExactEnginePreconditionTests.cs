using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>
/// One test per precondition of the exact engine's shortcuts (docs/architecture.md, "Why the fast patching engine
/// gives the same numbers"): each fails if the fact the shortcut relies on stops holding.
/// </summary>
public class ExactEnginePreconditionTests
{
    private static TokenBatch Batch(params int[][] s) => new(s.Select(x => (IReadOnlyList<int>)x).ToList(), padId: 0);

    /// <summary>Step 1 (start at the patched layer): editing a hook of block l leaves every resid_pre up to l unchanged.</summary>
    [Fact]
    public void APatchChangesNothingBeforeItsLayer()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        int L = model.Config.NLayers;
        var resid = Enumerable.Range(0, L).Select(HookNames.ResidPre).Append(HookNames.ResidPost(L - 1)).ToArray();
        var (_, baseline) = model.RunWithCache(inputs.Corrupted, resid, LogitsMode.None);
        for (int l = 0; l < L; l++)
            foreach (var activation in PatchSite.Activations)
            {
                string hook = HookNames.GetActName(activation, l);
                Assert.Equal(l, PatchVariant.LayerOf(hook, L));
                var cache = new ActivationCache(model);
                model.Run(inputs.Corrupted, new ForwardOptions
                {
                    Cache = cache, CacheFilter = resid.Contains, Logits = LogitsMode.None,
                    Hooks = [new Hook(hook, (act, _) => { for (int i = 0; i < act.Length; i += 3) act.Data[i] += 0.5f; return null; })],
                });
                // resid_pre of block l is itself the patched activation there; every other hook comes after it.
                for (int before = 0; before < (activation == "resid_pre" ? l : l + 1); before++)
                    Assert.True(SlicePatch.SameBits(baseline[HookNames.ResidPre(before)].Data, cache[HookNames.ResidPre(before)].Data), $"{hook} changed resid_pre {before}");
                Assert.False(SlicePatch.SameBits(baseline[HookNames.ResidPost(L - 1)].Data, cache[HookNames.ResidPost(L - 1)].Data), $"{hook}: the edit had no effect");
            }
    }

    /// <summary>Step 5 (skip the patched block): only resid_post, mlp_out and mlp.hook_post are skipped, and each reaches
    /// the next block only through resid_post, as an addition (for a neuron: Δpost·W_out[n]).</summary>
    [Fact]
    public void OnlyHooksThatFeedResidPostAdditivelySkipTheirBlock()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        var cfg = model.Config;
        const int layer = 1, neuron = 5, pos = 2;
        foreach (var activation in PatchSite.Activations)
        {
            var site = activation switch
            {
                "q" or "k" or "v" or "z" or "pattern" => PatchSite.Head(activation, layer, 0),
                "post" => PatchSite.Neuron(layer, neuron),
                _ => PatchSite.Residual(activation, layer),
            };
            var slice = SlicePatch.At(0, site, cfg, _ => []);
            Assert.Equal(activation is "resid_post" or "mlp_out" or "post", slice.EntryIn(model) == ResidualEntry.ResidPost);
        }
        string post = HookNames.ResidPost(layer);
        var (_, baseline) = model.RunWithCache(inputs.Corrupted, [post], LogitsMode.None);
        int d = cfg.DModel;
        foreach (var (hook, width) in new[] { (HookNames.ResidPost(layer), d), (HookNames.MlpOut(layer), d), (HookNames.MlpPost(layer), cfg.DMlp) })
        {
            var cache = new ActivationCache(model);
            model.Run(inputs.Corrupted, new ForwardOptions
            {
                Cache = cache, CacheFilter = n => n == post, Logits = LogitsMode.None,
                Hooks = [new Hook(hook, (act, _) => { act.Data[pos * width + (width == d ? 3 : neuron)] += 1f; return null; })],
            });
            var expected = baseline[post].Data.ToArray();
            if (width == d) expected[pos * d + 3] += 1f;
            else
                for (int i = 0; i < d; i++) expected[pos * d + i] += model.Weights.Blocks[layer].W_out!.Data[neuron * d + i];
            TensorAssert.Close(expected, cache[post].Data, $"{hook} reaches resid_post additively", atol: 1e-5f);
        }
    }

    /// <summary>Step 5 (resid_mid entry): only resid_mid, attn_out and a head's z enter through resid_mid; each changes
    /// resid_mid additively (z: Δz·W_O[h]) at the edited position only, and resid_post only there, by ln2 and the MLP of
    /// the new resid_mid: the block's attention never sees them.</summary>
    [Fact]
    public void OnlyHooksThatFeedResidMidAdditivelySkipTheirAttention()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        var cfg = model.Config;
        const int layer = 1, head = 1, feature = 2, pos = 2;
        foreach (var activation in PatchSite.Activations)
        {
            var site = activation switch
            {
                "q" or "k" or "v" or "z" or "pattern" => PatchSite.Head(activation, layer, head),
                "post" => PatchSite.Neuron(layer, 5),
                _ => PatchSite.Residual(activation, layer),
            };
            Assert.Equal(activation is "resid_mid" or "attn_out" or "z", SlicePatch.At(0, site, cfg, _ => []).EntryIn(model) == ResidualEntry.ResidMid);
        }
        string mid = HookNames.ResidMid(layer), post = HookNames.ResidPost(layer);
        var (_, baseline) = model.RunWithCache(inputs.Corrupted, [mid, post], LogitsMode.None);
        int d = cfg.DModel, zWidth = cfg.NHeads * cfg.DHead;
        foreach (var (hook, width, isZ) in new[] { (mid, d, false), (HookNames.AttnOut(layer), d, false), (HookNames.Z(layer), zWidth, true) })
        {
            var cache = new ActivationCache(model);
            model.Run(inputs.Corrupted, new ForwardOptions
            {
                Cache = cache, CacheFilter = n => n == mid || n == post, Logits = LogitsMode.None,
                Hooks = [new Hook(hook, (act, _) => { act.Data[pos * width + (isZ ? head * cfg.DHead + feature : 3)] += 1f; return null; })],
            });
            var expectedMid = baseline[mid].Clone();
            var row = expectedMid.Data.AsSpan(pos * d, d);
            if (!isZ) row[3] += 1f;
            else System.Numerics.Tensors.TensorPrimitives.Add(row, model.Weights.Blocks[layer].W_O.Data.AsSpan((head * cfg.DHead + feature) * d, d), row);
            TensorAssert.Close(expectedMid.Data, cache[mid].Data, $"{hook} reaches resid_mid additively", atol: 1e-5f);

            var x = new Tensor(row.ToArray(), 1, 1, d);
            var block = model.Blocks[layer];
            var mlpOut = block.Mlp!.Forward(block.Ln2!.Forward(x, ForwardContext.None), ForwardContext.None);
            var expectedPost = baseline[post].Clone();
            System.Numerics.Tensors.TensorPrimitives.Add(x.Data, mlpOut.Data, expectedPost.Data.AsSpan(pos * d, d));
            TensorAssert.Close(expectedPost.Data, cache[post].Data, $"{hook} reaches resid_post through ln2 and the MLP at its position", atol: 1e-5f);
        }
    }

    /// <summary>Step 2 (skip unchanged patches): a patch is skipped only when source and target are equal bit for bit;
    /// 0 and -0 are equal floats but not the same bits.</summary>
    [Fact]
    public void OnlyBitIdenticalPatchesAreSkipped()
    {
        var cfg = PatchingReferenceTests.Load("tiny-a").Model.Config;
        var slice = SlicePatch.At(0, PatchSite.Residual("resid_pre", 0, 1), cfg, _ => [1]);
        var target = Tensor.Zeros(1, 3, cfg.DModel);
        var source = target.Clone();
        Assert.Equal(int.MaxValue, slice.FirstChange(source, target));
        source.Data[cfg.DModel + 4] = -0f;
        Assert.Equal(1, slice.FirstChange(source, target));
    }

    /// <summary>Step 3 (start clamp): a pass starts no later than the shortest prompt's final token, even when every
    /// prompt's first change comes after it.</summary>
    [Fact]
    public void ThePassStartsNoLaterThanTheShortestPromptsFinalToken()
    {
        var model = RandomWeights.CreateModel(new ModelConfig
            { NLayers = 2, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 40, NCtx = 16, ModelName = "random" }, seed: 9);
        // Prompt 0 differs only at its final token (6); prompt 1 (final token 4) not at all.
        var inputs = new PatchingInputs(Batch([39, 5, 7, 9, 11, 13, 15], [39, 6, 8, 10, 12]),
            Batch([39, 5, 7, 9, 11, 13, 3], [39, 6, 8, 10, 12]), new LogitDiffMetric([(1, 2), (3, 4)]));
        var options = new PatchingOptions { Alignment = Alignment.End, Positions = [-1] };
        var plain = new ActivationPatcher(model, inputs, options with { Method = PatchingMethod.Plain });
        var exact = new ActivationPatcher(model, inputs, options);
        var sweep = exact.Sweep("resid_pre");
        var a = plain.Run(sweep);
        var b = exact.Run(sweep);
        TensorAssert.Close(a.PerPrompt!, b.PerPrompt!, "end-aligned final-token patch");
        Assert.NotEqual(exact.CorruptedBaseline[0], b.PerPrompt!.Data[0]);
    }

    /// <summary>Step 3 (positions from the first change): a pass holds only patches with the same first change, so no row
    /// recomputes positions before its own patch: the work is exactly Σ prompts·(len - position)·(blocks run) over the
    /// patches that change something, and the numbers stay the plain engine's.</summary>
    [Fact]
    public void APassComputesNoPositionBeforeItsPatchesFirstChange()
    {
        var cfg = new ModelConfig { NLayers = 3, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 40, NCtx = 16, ModelName = "random" };
        var model = RandomWeights.CreateModel(cfg, seed: 5);
        // Three prompts of 7 tokens whose corrupted versions differ at position 2 only.
        var inputs = new PatchingInputs(Batch([39, 5, 7, 9, 11, 13, 15], [39, 6, 8, 10, 12, 14, 16], [39, 21, 22, 23, 24, 25, 26]),
            Batch([39, 5, 1, 9, 11, 13, 15], [39, 6, 2, 10, 12, 14, 16], [39, 21, 3, 23, 24, 25, 26]), new LogitDiffMetric([(1, 2), (3, 4), (5, 6)]));
        var (_, clean) = model.RunWithCache(inputs.Clean, logits: LogitsMode.None);
        var (_, corrupted) = model.RunWithCache(inputs.Corrupted, logits: LogitsMode.None);
        const int prompts = 3, length = 7;
        foreach (var (activation, skipsBlock) in new[] { ("resid_pre", 0), ("attn_out", 1), ("resid_mid", 1), ("mlp_out", 1), ("resid_post", 1) })
        {
            var exact = new ActivationPatcher(model, inputs, new PatchingOptions { MaxRowsPerPass = 64, ThinPassTokens = 0 });
            var plain = new ActivationPatcher(model, inputs, new PatchingOptions { Method = PatchingMethod.Plain });
            long expected = 0;
            for (int l = 0; l < cfg.NLayers; l++)
            {
                string hook = HookNames.GetActName(activation, l);
                for (int p = 0; p < length; p++)
                {
                    bool changes = false;
                    for (int b = 0; b < prompts; b++)
                        changes |= !SlicePatch.SameBits(clean[hook].Data.AsSpan((b * length + p) * cfg.DModel, cfg.DModel),
                            corrupted[hook].Data.AsSpan((b * length + p) * cfg.DModel, cfg.DModel));
                    if (changes) expected += (long)prompts * (length - p) * (cfg.NLayers - l - skipsBlock);
                }
            }
            var sweep = exact.Sweep(activation);
            TensorAssert.Close(plain.Run(sweep).PerPrompt!, exact.Run(sweep).PerPrompt!, activation);
            Assert.True(expected > 0, $"{activation}: the prompts must differ");
            Assert.Equal(expected, exact.ExactRowPositionBlocks);
        }
    }

    /// <summary>Step 3 for one prompt pair: every pass would be thin (1 row x a few positions), so the patches of a layer
    /// share one pass from their earliest first change (PassPlan); the numbers stay the plain engine's and
    /// the work is exactly one such pass per layer: (changed patches)·(len - first change)·(blocks run).</summary>
    [Fact]
    public void OnePromptPairSharesOneThinPassPerLayer()
    {
        var cfg = new ModelConfig { NLayers = 3, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 40, NCtx = 16, ModelName = "random" };
        var model = RandomWeights.CreateModel(cfg, seed: 7);
        var inputs = new PatchingInputs(Batch([39, 5, 7, 9, 11, 13, 15, 17]), Batch([39, 5, 1, 9, 11, 13, 15, 17]), new LogitDiffMetric([(1, 2)]));
        var (_, clean) = model.RunWithCache(inputs.Clean, logits: LogitsMode.None);
        var (_, corrupted) = model.RunWithCache(inputs.Corrupted, logits: LogitsMode.None);
        const int length = 8;
        foreach (var (activation, skipsBlock) in new[] { ("resid_pre", 0), ("attn_out", 1), ("mlp_out", 1) })
        {
            var exact = new ActivationPatcher(model, inputs);
            var plain = new ActivationPatcher(model, inputs, new PatchingOptions { Method = PatchingMethod.Plain });
            var sweep = exact.Sweep(activation);
            TensorAssert.Close(plain.Run(sweep).PerPrompt!, exact.Run(sweep).PerPrompt!, activation);
            long expected = 0;
            int passes = 0;
            for (int l = 0; l < cfg.NLayers; l++)
            {
                string hook = HookNames.GetActName(activation, l);
                var changed = Enumerable.Range(0, length).Where(p => !SlicePatch.SameBits(clean[hook].Data.AsSpan(p * cfg.DModel, cfg.DModel),
                    corrupted[hook].Data.AsSpan(p * cfg.DModel, cfg.DModel))).ToList();
                if (changed.Count == 0) continue;
                expected += (long)changed.Count * (length - changed[0]) * (cfg.NLayers - l - skipsBlock);
                passes += changed.Count > 1 ? 1 : 0;
            }
            Assert.True(passes > 0, $"{activation}: some layer must have several changed positions to merge");
            Assert.Equal(expected, exact.ExactRowPositionBlocks);
        }
    }

    /// <summary>Step 6 (last block at final rows only): it is taken only when the pass has no hook in the last block;
    /// patches inside the last block still change the result and match the plain engine.</summary>
    [Fact]
    public void PatchesInsideTheLastBlockAreNotShortCut()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        int last = model.Config.NLayers - 1, H = model.Config.NHeads;
        var sites = new[] { "q", "k", "v", "z", "pattern" }.SelectMany(a => Enumerable.Range(0, H).Select(h => PatchSite.Head(a, last, h)))
            .Append(PatchSite.Residual("attn_out", last)).Append(PatchSite.Residual("resid_mid", last)).ToArray();
        var sweep = PatchSweep.Of("last block", sites);
        var plain = new ActivationPatcher(model, inputs, new PatchingOptions { Method = PatchingMethod.Plain }).Run(sweep);
        var exactPatcher = new ActivationPatcher(model, inputs);
        var exact = exactPatcher.Run(sweep);
        TensorAssert.Close(plain.PerPrompt!, exact.PerPrompt!, "last-block patches");
        Assert.Contains(exact.Values.Data, v => Math.Abs(v - exactPatcher.CorruptedBaseline.Average()) > 1e-3);
    }
}
