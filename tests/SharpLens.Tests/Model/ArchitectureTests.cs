using SharpLens.Analysis;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// What every engine written against the components must keep on every kind of block (<see cref="Architectures"/>):
/// parameter and hook gradients equal finite differences, the hook points fire in their declared order with their
/// declared shapes, a KV cache and query rows give the full forward's logits, exact patching gives plain patching's
/// numbers, and weight processing keeps the log-probabilities.
/// </summary>
public class ArchitectureTests
{
    private static readonly TokenBatch Tokens = new([[3, 7, 1, 19, 4, 11, 2, 8], [22, 5, 5, 9, 0, 2, 27, 13]], padId: 0);

    private static HookedTransformer Raw(string arch, int seed = 5) =>
        new(Architectures.Get(arch), RandomWeights.Create(Architectures.Get(arch), seed, std: 0.25f), weightsProcessed: false);

    // Mean next-token cross-entropy over every position but the last, in double; with its gradient d loss / d logits.
    private static (double Loss, Tensor DLogits) Loss(Tensor logits)
    {
        int batch = logits.Dim(0), pos = logits.Dim(1), vocab = logits.Dim(2), count = batch * (pos - 1);
        var dLogits = Tensor.Zeros(batch, pos, vocab);
        double loss = 0;
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < pos - 1; p++)
            {
                var row = logits.Data.AsSpan((b * pos + p) * vocab, vocab);
                int target = Tokens.Ids[b * pos + p + 1];
                double max = double.NegativeInfinity, sum = 0;
                foreach (float x in row) max = Math.Max(max, x);
                foreach (float x in row) sum += Math.Exp(x - max);
                loss += (Math.Log(sum) + max - row[target]) / count;
                for (int v = 0; v < vocab; v++)
                    dLogits.Data[(b * pos + p) * vocab + v] = (float)((Math.Exp(row[v] - max) / sum - (v == target ? 1 : 0)) / count);
            }
        return (loss, dLogits);
    }

    /// <summary>Every parameter's gradient (TransformerLens names) along a random unit direction equals the central
    /// finite difference (L(θ + h·u) − L(θ − h·u)) / 2h of a next-token cross-entropy loss.</summary>
    [Theory]
    [MemberData(nameof(Architectures.All), MemberType = typeof(Architectures))]
    public void EveryParameterGradientMatchesFiniteDifferences(string arch)
    {
        var model = Raw(arch);
        var cfg = model.Config;
        var cache = new ActivationCache(model);
        var needed = new HashSet<string>(model.BackwardHooks(parameters: true));
        var (_, dLogits) = Loss(model.Run(Tokens, new ForwardOptions { Cache = cache, CacheFilter = needed.Contains }));
        var grads = new ParameterGradients();
        TransformerBackward.FromLogits(model, cache, Tokens, dLogits, keep: _ => false, parameters: grads);

        var named = model.Weights.Named().ToList();
        Assert.Equal(named.Select(p => p.Name).Order(), grads.Keys.Order());
        var rng = new Random(11);
        const float h = 1e-2f;
        foreach (var (name, tensor) in named)
        {
            Assert.Equal(tensor.Shape, grads[name].Shape);
            var direction = new float[tensor.Length];
            for (int i = 0; i < direction.Length; i++) direction[i] = (float)(rng.NextDouble() * 2 - 1);
            System.Numerics.Tensors.TensorPrimitives.Divide(direction, System.Numerics.Tensors.TensorPrimitives.Norm(direction), direction);
            double analytic = System.Numerics.Tensors.TensorPrimitives.Dot(grads[name].Data, direction);
            var original = (float[])tensor.Data.Clone();
            double LossAt(float step)
            {
                for (int i = 0; i < original.Length; i++) tensor.Data[i] = original[i] + step * direction[i];
                // The packed copies the GEMMs read are built with the model: build it again over the edited weights.
                return Loss(new HookedTransformer(cfg, model.Weights, weightsProcessed: false).Forward(Tokens)).Loss;
            }
            double numeric = (LossAt(h) - LossAt(-h)) / (2 * h);
            original.CopyTo(tensor.Data, 0);
            Assert.True(Math.Abs(numeric - analytic) <= 3e-4 + 0.02 * Math.Abs(numeric),
                $"{arch} {name}: analytic {analytic:G6}, finite differences {numeric:G6}");
            // b_K only shifts every score of a query row by the same amount, which softmax ignores: its gradient is exactly 0.
            if (!name.EndsWith("b_K", StringComparison.Ordinal))
                Assert.True(Math.Abs(numeric) > 1e-5, $"{arch} {name}: the loss does not depend on it, so the check proves nothing");
        }
    }

    /// <summary>Asking for a few parameter gradients computes only those and leaves every hook gradient unchanged.</summary>
    [Fact]
    public void OnlyRequestedParameterGradientsAreComputedAndHookGradientsAreUnchanged()
    {
        var model = Raw("llama", seed: 6);
        var cache = new ActivationCache(model);
        var needed = new HashSet<string>(model.BackwardHooks(parameters: true));
        var (_, dLogits) = Loss(model.Run(Tokens, new ForwardOptions { Cache = cache, CacheFilter = needed.Contains }));
        var without = TransformerBackward.FromLogits(model, cache, Tokens, dLogits);
        var some = new ParameterGradients(n => n.EndsWith(".attn.W_O", StringComparison.Ordinal));
        var with = TransformerBackward.FromLogits(model, cache, Tokens, dLogits, parameters: some);
        Assert.Equal(["blocks.0.attn.W_O", "blocks.1.attn.W_O"], some.Keys.Order());
        Assert.Equal(without.Keys.Order(), with.Keys.Order());
        foreach (var name in without.Keys) Assert.Equal(without[name].Data, with[name].Data);
    }

    /// <summary>Every hook gradient of a loss equals the finite difference of the loss when that activation is moved
    /// by a hook along a random direction (the activations' gradients, not only the parameters'). A hook on the pattern
    /// makes the forward mix every key, so its gradient covers masked entries too, as a TransformerLens backward hook's does.</summary>
    [Theory]
    [MemberData(nameof(Architectures.All), MemberType = typeof(Architectures))]
    public void EveryHookGradientMatchesFiniteDifferences(string arch)
    {
        var model = Raw(arch, seed: 8);
        var cache = new ActivationCache(model);
        var needed = new HashSet<string>(model.BackwardHooks());
        var (_, dLogits) = Loss(model.Run(Tokens, new ForwardOptions { Cache = cache, CacheFilter = needed.Contains }));
        var grads = TransformerBackward.FromLogits(model, cache, Tokens, dLogits);
        var rng = new Random(3);
        foreach (var name in model.HookPointNames)
        {
            if (name.EndsWith("hook_attn_scores", StringComparison.Ordinal)) continue;   // never reported (as TransformerLens' backward hooks see -inf)
            var g = grads[name];
            var direction = new float[g.Length];
            for (int i = 0; i < direction.Length; i++) direction[i] = (float)(rng.NextDouble() * 2 - 1);
            double analytic = System.Numerics.Tensors.TensorPrimitives.Dot(g.Data, direction);
            double LossAt(float step) => Loss(model.RunWithHooks(Tokens, [new Hook(name, (act, _) =>
            {
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(direction, step, act.Data, act.Data);
                return null;
            })])).Loss;
            const float h = 1e-3f;
            double numeric = (LossAt(h) - LossAt(-h)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic) <= 2e-3 + 0.03 * Math.Abs(numeric), $"{arch} {name}: analytic {analytic:G6}, finite differences {numeric:G6}");
        }
    }

    /// <summary>Hook points fire in exactly the order the model lists them, each with its declared shape.</summary>
    [Theory]
    [MemberData(nameof(Architectures.All), MemberType = typeof(Architectures))]
    public void HookPointsFireInTheirDeclaredOrderWithTheirDeclaredShapes(string arch)
    {
        var model = Raw(arch);
        var fired = new List<(string Name, int[] Shape)>();
        model.RunWithHooks(Tokens, model.HookPointNames.Select(n => new Hook(n, (act, _) => { fired.Add((n, act.Shape.ToArray())); return null; })));
        Assert.Equal(model.HookPointNames, fired.Select(f => f.Name));
        foreach (var (name, shape) in fired) Assert.Equal(model.HookShape(name, Tokens.Batch, Tokens.Pos), shape);
    }

    /// <summary>The hook points of block 0 per architecture, pinned (TransformerLens' names; the model's list is built from
    /// the components, so a component that adds or loses a hook point fails here).</summary>
    [Theory]
    [InlineData("gpt2", "hook_resid_pre ln1.hook_scale ln1.hook_normalized attn.hook_q attn.hook_k attn.hook_v attn.hook_attn_scores attn.hook_pattern attn.hook_z attn.hook_result hook_attn_out hook_resid_mid ln2.hook_scale ln2.hook_normalized mlp.hook_pre mlp.hook_post hook_mlp_out hook_resid_post")]
    [InlineData("neox", "hook_resid_pre ln1.hook_scale ln1.hook_normalized attn.hook_q attn.hook_k attn.hook_v attn.hook_rot_q attn.hook_rot_k attn.hook_attn_scores attn.hook_pattern attn.hook_z attn.hook_result hook_attn_out ln2.hook_scale ln2.hook_normalized mlp.hook_pre mlp.hook_post hook_mlp_out hook_resid_post")]
    [InlineData("llama", "hook_resid_pre ln1.hook_scale ln1.hook_normalized attn.hook_q attn.hook_k attn.hook_v attn.hook_rot_q attn.hook_rot_k attn.hook_attn_scores attn.hook_pattern attn.hook_z attn.hook_result hook_attn_out hook_resid_mid ln2.hook_scale ln2.hook_normalized mlp.hook_pre mlp.hook_pre_linear mlp.hook_post hook_mlp_out hook_resid_post")]
    [InlineData("qwen3", "hook_resid_pre ln1.hook_scale ln1.hook_normalized attn.hook_q attn.hook_k attn.hook_v attn.q_norm.hook_scale attn.q_norm.hook_normalized attn.k_norm.hook_scale attn.k_norm.hook_normalized attn.hook_rot_q attn.hook_rot_k attn.hook_attn_scores attn.hook_pattern attn.hook_z attn.hook_result hook_attn_out hook_resid_mid ln2.hook_scale ln2.hook_normalized mlp.hook_pre mlp.hook_pre_linear mlp.hook_post hook_mlp_out hook_resid_post")]
    [InlineData("attn-only", "hook_resid_pre ln1.hook_scale ln1.hook_normalized attn.hook_q attn.hook_k attn.hook_v attn.hook_attn_scores attn.hook_pattern attn.hook_z attn.hook_result hook_attn_out hook_resid_post")]
    public void TheHookListIsPinnedPerArchitecture(string arch, string block0)
    {
        var model = Raw(arch);
        var names = model.HookPointNames;
        bool rotary = model.Config.IsRotary;
        Assert.Equal(rotary ? ["hook_embed"] : ["hook_embed", "hook_pos_embed"], names.TakeWhile(n => !n.StartsWith("blocks.", StringComparison.Ordinal)));
        Assert.Equal(block0.Split(' ').Select(n => "blocks.0." + n), names.Where(n => n.StartsWith("blocks.0.", StringComparison.Ordinal)));
        Assert.Equal(["ln_final.hook_scale", "ln_final.hook_normalized"], names.TakeLast(2));
        Assert.Equal(names.Count(n => n.StartsWith("blocks.0.", StringComparison.Ordinal)), names.Count(n => n.StartsWith("blocks.1.", StringComparison.Ordinal)));
        if (model.Config.KeyValueHeads < model.Config.NHeads)
            Assert.Equal(["batch", "pos", "kv_head_index", "d_head"], model.HookShape("blocks.0.attn.hook_k"));
    }

    /// <summary>Generation's KV cache (a prefix, then one token at a time: rotary offsets, key/value heads, windows) and
    /// query rows give the logits of the full forward at every position.</summary>
    [Theory]
    [MemberData(nameof(Architectures.All), MemberType = typeof(Architectures))]
    public void KvCacheAndQueryRowsGiveTheFullForwardsLogits(string arch)
    {
        var model = RandomWeights.CreateModel(Architectures.Get(arch), seed: 4);
        var ids = Tokens.Ids.AsSpan(0, Tokens.Pos).ToArray();
        var full = model.Forward(ids);                                 // [1, pos, vocab]
        int vocab = model.Config.DVocab, prefix = 3;
        var kv = new KvCache(model.Config, 1, ids.Length);
        var first = model.Run(TokenBatch.Single(ids[..prefix]), new ForwardOptions { KvCache = kv, Logits = LogitsMode.Final });
        TensorAssert.Close(full.Data.AsSpan((prefix - 1) * vocab, vocab), first.Data, $"{arch} prefix", atol: 1e-4f);
        for (int p = prefix; p < ids.Length; p++)
        {
            var step = model.Run(TokenBatch.Single([ids[p]]), new ForwardOptions { KvCache = kv, Logits = LogitsMode.Final });
            TensorAssert.Close(full.Data.AsSpan(p * vocab, vocab), step.Data, $"{arch} position {p}", atol: 1e-4f);
        }
        var rows = model.Run(TokenBatch.Single(ids), new ForwardOptions { QueryRows = [4] });
        TensorAssert.Close(full.Data.AsSpan(4 * vocab, vocab), rows.Data, $"{arch} query row", atol: 1e-4f);
    }

    /// <summary>The exact patching engine (block skipping by <c>TransformerBlock.EntryOf</c>, neuron Q/K/V shortcut, KV
    /// prefixes, query rows) gives the plain engine's numbers on every kind of block.</summary>
    [Theory]
    [MemberData(nameof(Architectures.All), MemberType = typeof(Architectures))]
    public void ExactPatchingEqualsPlainPatching(string arch)
    {
        var model = Raw(arch, seed: 9);
        int[][] clean = [[28, 5, 7, 9, 11, 13, 15], [28, 6, 8, 10, 12], [28, 21, 22, 23, 24, 25]];
        int[][] corrupted = [[28, 5, 17, 19, 1, 13, 15], [28, 6, 18, 20, 12], [28, 21, 2, 3, 24, 25]];
        TokenBatch Batch(int[][] s) => new(s.Select(x => (IReadOnlyList<int>)x).ToList(), padId: 0);
        var inputs = new PatchingInputs(Batch(clean), Batch(corrupted), new LogitDiffMetric([(1, 2), (3, 4), (5, 1)]));
        var plain = new ActivationPatcher(model, inputs, new PatchingOptions { Method = PatchingMethod.Plain });
        var exact = new ActivationPatcher(model, inputs, new PatchingOptions { Method = PatchingMethod.Exact, MaxRowsPerPass = 7 });
        void Same(Func<ActivationPatcher, Grid> sweep, string name) =>
            TensorAssert.Close(sweep(plain).PerPrompt!, sweep(exact).PerPrompt!, $"{arch} {name}");
        var acts = new List<string> { "resid_pre", "resid_post", "attn_out" };
        if (!model.Config.AttnOnly) acts.Add("mlp_out");
        if (model.Blocks[0].HasResidMid) acts.Add("resid_mid");
        foreach (var act in acts) Same(p => p.ByPosition(act), act);
        foreach (var head in Enum.GetValues<HeadActivation>()) Same(p => p.HeadsAllPositions(head), $"head {head}");
        Same(p => p.HeadsByPosition(HeadActivation.Output), "z by position");
        if (!model.Config.AttnOnly) Same(p => p.Neurons([0, 1]), "neurons");
    }

    /// <summary>TransformerLens' weight processing (per normalization type) leaves every log-probability unchanged; for
    /// RMSNorm models it leaves the residual stream unchanged too (no centring).</summary>
    [Theory]
    [MemberData(nameof(Architectures.All), MemberType = typeof(Architectures))]
    public void WeightProcessingKeepsTheLogProbabilities(string arch)
    {
        var cfg = Architectures.Get(arch);
        var raw = new HookedTransformer(cfg, RandomWeights.Create(cfg, 2, std: 0.25f), weightsProcessed: false);
        var warnings = new List<string>();
        var processedWeights = WeightProcessing.Process(RandomWeights.Create(cfg, 2, std: 0.25f), WeightProcessingOptions.Default, config: cfg, warn: warnings.Add);
        var processed = new HookedTransformer(cfg, processedWeights, weightsProcessed: true);
        Assert.DoesNotContain(processed.Weights.Named(), p => p.Name.StartsWith("ln", StringComparison.Ordinal) || p.Name.Contains(".ln", StringComparison.Ordinal));
        Assert.Equal(cfg.UsesRmsNorm, warnings.Count == 1);
        var (a, rawCache) = raw.RunWithCache(Tokens, n => n.EndsWith("resid_post", StringComparison.Ordinal));
        var (b, processedCache) = processed.RunWithCache(Tokens, n => n.EndsWith("resid_post", StringComparison.Ordinal));
        int vocab = cfg.DVocab;
        for (int row = 0; row < a.Length / vocab; row++)
        {
            var ra = a.Data.AsSpan(row * vocab, vocab); var rb = b.Data.AsSpan(row * vocab, vocab);
            float la = LogSumExp(ra), lb = LogSumExp(rb);
            for (int i = 0; i < vocab; i++) Assert.InRange(ra[i] - la - (rb[i] - lb), -1e-4f, 1e-4f);
        }
        if (cfg.UsesRmsNorm)
            TensorAssert.Close(rawCache["resid_post", 1], processedCache["resid_post", 1], $"{arch} residual stream", atol: 1e-4f);
    }

    private static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(x);
        double sum = 0;
        foreach (float v in x) sum += Math.Exp(v - max);
        return max + (float)Math.Log(sum);
    }

    [Fact]
    public void RefactoringFactoredAttentionIsRefusedWithRotaryPositions()
    {
        var cfg = Architectures.Get("llama");
        var e = Assert.Throws<InvalidInputException>(() => WeightProcessing.Process(RandomWeights.Create(cfg), WeightProcessingOptions.Default with { RefactorFactoredAttnMatrices = true }, config: cfg));
        Assert.Contains("rotary", e.Message);
    }

    [Fact]
    public void AConfigDictRoundTripsAndItsMistakesAreOneLineErrors()
    {
        foreach (var name in Architectures.Names)
        {
            var cfg = Architectures.Get(name);
            var back = ModelConfigJson.Parse(ModelConfigJson.ToJson(cfg));
            Assert.Equal(ModelConfigJson.ToJson(cfg), ModelConfigJson.ToJson(back));
        }
        var tl = ModelConfigJson.Parse("""{"n_layers": 2, "d_model": 128, "n_heads": 4, "d_vocab": 2048, "n_ctx": 64, "act_fn": "gelu_new", "normalization_type": "LN", "positional_embedding_type": "standard"}""");
        Assert.Equal((32, 512, "gelu_new"), (tl.DHead, tl.DMlp, tl.ActFn));
        string Error(string json) => Assert.Throws<InvalidInputException>(() => ModelConfigJson.Parse(json, "cfg.json")).Message;
        Assert.Contains("'n_layer'", Error("""{"n_layer": 2, "d_model": 128, "n_heads": 4, "d_vocab": 10, "n_ctx": 8, "act_fn": "relu"}"""));
        Assert.Contains("not divisible", Error("""{"n_layers": 2, "d_model": 130, "n_heads": 4, "d_vocab": 10, "n_ctx": 8, "act_fn": "relu"}"""));
        Assert.Contains("act_fn", Error("""{"n_layers": 2, "d_model": 128, "n_heads": 4, "d_vocab": 10, "n_ctx": 8}"""));
        Assert.Contains("attention_dir", Error("""{"n_layers": 2, "d_model": 128, "n_heads": 4, "d_vocab": 10, "n_ctx": 8, "act_fn": "relu", "attention_dir": "bidirectional"}"""));
        Assert.Contains("n_key_value_heads", Error("""{"n_layers": 2, "d_model": 128, "n_heads": 4, "n_key_value_heads": 3, "d_vocab": 10, "n_ctx": 8, "act_fn": "relu"}"""));
    }
}
