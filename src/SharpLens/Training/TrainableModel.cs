using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Tensors;

namespace SharpLens.Training;

/// <summary>
/// The parameters a training run updates, over one set of unprocessed weights in TransformerLens' names. GPT-2's layout
/// ties the unembedding to the embedding, so W_U is not a parameter of its own: it is W_Eᵀ, rewritten after every update
/// (<see cref="SyncTiedUnembedding"/>), and its gradient is added to W_E's (<see cref="FoldTiedGradient"/>). b_U does not
/// exist in that layout and stays zero. An LNPre model keeps its LayerNorm weights at 1 and 0, untrained.
/// </summary>
public sealed class TrainableModel
{
    private TrainableModel(TrainingModelConfig spec, TransformerWeights weights)
    {
        Spec = spec;
        Weights = weights;
        Parameters = weights.Named().Where(p => IsTrained(spec, p.Name)).ToArray();
        SyncTiedUnembedding();
    }

    /// <summary>The architecture.</summary>
    public TrainingModelConfig Spec { get; }
    /// <summary>Every weight, unprocessed (no LayerNorm folding or centring), updated in place by training.</summary>
    public TransformerWeights Weights { get; }
    /// <summary>The trained parameters in TransformerLens' state-dict order, each [the parameter's shape].</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> Parameters { get; }

    /// <summary>Whether training updates the parameter named <paramref name="name"/> (see the class summary).</summary>
    /// <param name="spec">the architecture</param>
    /// <param name="name">a TransformerLens parameter name</param>
    public static bool IsTrained(TrainingModelConfig spec, string name) =>
        name is not ("unembed.W_U" or "unembed.b_U")
        && !(spec.NormalizationType == "LNPre" && (name.Contains(".ln", StringComparison.Ordinal) || name.StartsWith("ln_final.", StringComparison.Ordinal)));

    /// <summary>A model initialised as TransformerLens' <c>init_weights</c> with init_mode "gpt2" does it: every W_ from
    /// N(0, initializer_range²), every bias 0, LayerNorm weights 1 (an attn_only model has no MLPs or ln2); the same
    /// <paramref name="seed"/> gives the same weights (its own generator, not torch's, so not torch's numbers).</summary>
    /// <param name="spec">the architecture</param>
    /// <param name="seed">the run's seed</param>
    public static TrainableModel Initialize(TrainingModelConfig spec, long seed)
    {
        var cfg = spec.Model;
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead, m = cfg.DMlp;
        Tensor Ones(int n) { var t = Tensor.ZerosLongLived(n); Array.Fill(t.Data, 1f); return t; }
        var blocks = Enumerable.Range(0, cfg.NLayers).Select(_ =>
        {
            var block = new BlockWeights
            {
                Ln1W = Ones(d), Ln1B = Tensor.ZerosLongLived(d),
                W_Q = Tensor.ZerosLongLived(h, d, dh), W_K = Tensor.ZerosLongLived(h, d, dh), W_V = Tensor.ZerosLongLived(h, d, dh),
                b_Q = Tensor.ZerosLongLived(h, dh), b_K = Tensor.ZerosLongLived(h, dh), b_V = Tensor.ZerosLongLived(h, dh),
                W_O = Tensor.ZerosLongLived(h, dh, d), b_O = Tensor.ZerosLongLived(d),
            };
            if (cfg.AttnOnly) return block;
            block.Ln2W = Ones(d); block.Ln2B = Tensor.ZerosLongLived(d);
            block.W_in = Tensor.ZerosLongLived(d, m); block.b_in = Tensor.ZerosLongLived(m);
            block.W_out = Tensor.ZerosLongLived(m, d); block.b_out = Tensor.ZerosLongLived(d);
            return block;
        }).ToArray();
        var weights = new TransformerWeights
        {
            W_E = Tensor.ZerosLongLived(cfg.DVocab, d), W_pos = Tensor.ZerosLongLived(cfg.NCtx, d), Blocks = blocks,
            LnFinalW = Ones(d), LnFinalB = Tensor.ZerosLongLived(d),
            W_U = Tensor.ZerosLongLived(d, cfg.DVocab), b_U = Tensor.ZerosLongLived(cfg.DVocab),
        };
        int index = 0;
        foreach (var (name, tensor) in weights.Named())
        {
            index++;
            string leaf = name[(name.LastIndexOf('.') + 1)..];
            if (!leaf.StartsWith("W_", StringComparison.Ordinal) || !IsTrained(spec, name)) continue;
            new DeterministicRandom(seed, stream: 1, index).FillNormal(tensor.Data, spec.InitializerRange);
        }
        return new TrainableModel(spec, weights);
    }

    /// <summary>A model over existing unprocessed weights (fine-tuning); W_U must be W_Eᵀ (tied), as GPT-2's layout stores it.</summary>
    /// <param name="spec">the architecture</param>
    /// <param name="weights">unprocessed weights of <paramref name="spec"/>'s shape (used, not copied)</param>
    /// <param name="source">where they came from, for errors</param>
    public static TrainableModel FromWeights(TrainingModelConfig spec, TransformerWeights weights, string source)
    {
        int v = spec.Model.DVocab, d = spec.Model.DModel;
        for (int t = 0; t < v; t++)
            for (int i = 0; i < d; i++)
                if (weights.W_U.Data[i * v + t] != weights.W_E.Data[t * d + i])
                    throw new InvalidCheckpointException($"{source} has an unembedding (lm_head.weight) that differs from its embedding: training ties them (GPT-2's layout); start from a tied checkpoint");
        if (weights.b_U.Data.Any(x => x != 0))
            throw new InvalidCheckpointException($"{source} has a non-zero b_U, which GPT-2's layout cannot hold: start from a GPT-2 checkpoint");
        return new TrainableModel(spec, weights);
    }

    /// <summary>A model folder in GPT-2's layout (a trained model, or any GPT-2 checkpoint) to fine-tune: unprocessed
    /// weights; the architecture from config.json's <c>transformer_lens_config</c> when a SharpLens run wrote it, else
    /// GPT-2's (LayerNorm with weights, MLPs).</summary>
    /// <param name="folder">the model folder</param>
    public static TrainableModel Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new ModelNotFoundException($"model folder '{folder}' does not exist: pass a folder with config.json and model.safetensors");
        var (cfg, weights) = Loading.ModelLoader.LoadRawWeights(folder);
        string configPath = Path.Combine(folder, "config.json");
        var saved = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))?["transformer_lens_config"];
        var spec = saved is System.Text.Json.Nodes.JsonObject o
            ? TrainingModelConfig.Parse(o.ToJsonString(), configPath + " (transformer_lens_config)")
            : TrainingModelConfig.Parse(new System.Text.Json.Nodes.JsonObject
            {
                ["n_layers"] = cfg.NLayers, ["d_model"] = cfg.DModel, ["n_heads"] = cfg.NHeads, ["d_mlp"] = cfg.DMlp,
                ["d_vocab"] = cfg.DVocab, ["n_ctx"] = cfg.NCtx, ["eps"] = cfg.LayerNormEps, ["act_fn"] = "gelu_new",
                ["model_name"] = cfg.ModelName,
            }.ToJsonString(), configPath);
        if (spec.Model.NLayers != cfg.NLayers || spec.Model.DModel != cfg.DModel || spec.Model.NHeads != cfg.NHeads || spec.Model.DVocab != cfg.DVocab || spec.Model.NCtx != cfg.NCtx)
            throw new InvalidCheckpointException($"{configPath}: transformer_lens_config does not match the GPT-2 keys (n_layer, n_embd, ...): fix config.json");
        spec = spec with { Model = spec.Model with { BosTokenId = cfg.BosTokenId } };
        if (spec.AttnOnly) DropZeroMlps(weights, configPath);
        return FromWeights(spec, weights, folder);
    }

    /// <summary>An attn_only model saved in GPT-2's layout holds one-neuron MLPs of zeros (<see cref="Families.Gpt2.Gpt2WeightMap"/>'s
    /// export); they are dropped again, after checking that they are zero.</summary>
    private static void DropZeroMlps(TransformerWeights weights, string configPath)
    {
        foreach (var b in weights.Blocks)
        {
            if (new[] { b.W_in, b.b_in, b.W_out, b.b_out }.Any(t => t is not null && t.Data.Any(x => x != 0)))
                throw new InvalidCheckpointException($"{configPath} says attn_only, but the checkpoint's MLP weights are not zero: fix transformer_lens_config or the weights");
            b.W_in = b.b_in = b.W_out = b.b_out = b.Ln2W = b.Ln2B = null;
        }
    }

    /// <summary>W_U = W_Eᵀ (after every update of W_E).</summary>
    public void SyncTiedUnembedding()
    {
        int v = Spec.Model.DVocab, d = Spec.Model.DModel;
        float[] e = Weights.W_E.Data, u = Weights.W_U.Data;
        const int tile = 32;
        for (int t0 = 0; t0 < v; t0 += tile)
            for (int i0 = 0; i0 < d; i0 += tile)
                for (int t = t0; t < Math.Min(t0 + tile, v); t++)
                    for (int i = i0; i < Math.Min(i0 + tile, d); i++)
                        u[i * v + t] = e[t * d + i];
    }

    /// <summary>Adds d loss / d W_U [d_model, d_vocab], transposed, to d loss / d W_E [d_vocab, d_model]: the tied
    /// parameter's gradient is the sum of both uses.</summary>
    /// <param name="gradients">gradients holding both names</param>
    public void FoldTiedGradient(ParameterGradients gradients)
    {
        if (!gradients.TryGet("unembed.W_U", out var dU) || !gradients.TryGet("embed.W_E", out var dE)) return;
        int v = Spec.Model.DVocab, d = Spec.Model.DModel;
        for (int t = 0; t < v; t++)
        {
            var row = dE.Data.AsSpan(t * d, d);
            for (int i = 0; i < d; i++) row[i] += dU.Data[i * v + t];
        }
    }

    /// <summary>A model over the current weights (the GEMM's packed copies are made from them now: build a new one after
    /// each update). Unprocessed, so its hooks and gradients are those of the weights as trained.</summary>
    /// <param name="tokenizer">the tokenizer, or null for token ids only</param>
    public HookedTransformer Build(Tokenization.Tokenizer? tokenizer = null) => new(Spec.Model, Weights, weightsProcessed: false, tokenizer);

    /// <summary>The gradient names a training step asks for: the trained parameters and W_U (folded into W_E).</summary>
    internal Func<string, bool> GradientFilter()
    {
        var names = new HashSet<string>(Parameters.Select(p => p.Name), StringComparer.Ordinal) { "unembed.W_U" };
        return names.Contains;
    }
}
