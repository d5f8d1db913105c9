using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Model;

/// <summary>Which logits a forward pass computes: all positions, only each prompt's final real position, or none.</summary>
public enum LogitsMode { All, Final, None }

/// <summary>Options of one forward call (TransformerLens' start_at_layer / stop_at_layer and more).</summary>
public sealed record ForwardOptions
{
    public IReadOnlyList<Hook>? Hooks { get; init; }
    /// <summary>Activation cache to fill, and which hook names to keep (null = all).</summary>
    public ActivationCache? Cache { get; init; }
    public Func<string, bool>? CacheFilter { get; init; }
    /// <summary>Begin at this block, feeding <see cref="ResidualInput"/> as its resid_pre.</summary>
    public int StartAtLayer { get; init; }
    /// <summary>[batch, pos, d_model]: resid_pre of <see cref="StartAtLayer"/>; needed when it is above 0.</summary>
    public Tensor? ResidualInput { get; init; }
    /// <summary>Stop before this block and return its resid_pre instead of logits (null = run to the end).</summary>
    public int? StopAtLayer { get; init; }
    public LogitsMode Logits { get; init; } = LogitsMode.All;
    /// <summary>Earlier positions' keys and values; this call's positions continue after them.</summary>
    public KvCache? KvCache { get; init; }
}

/// <summary>
/// GPT-2 with a hook point on every intermediate activation, named as in TransformerLens.
/// The model only composes its components; loading, weight processing, tokens and analyses live elsewhere.
/// </summary>
public sealed class HookedTransformer
{
    private readonly HashSet<string> _hookNames;

    public HookedTransformer(ModelConfig config, TransformerWeights weights, bool weightsProcessed, Gpt2Tokenizer? tokenizer = null)
    {
        config.Validate();
        Config = config;
        Weights = weights;
        WeightsProcessed = weightsProcessed;
        Tokenizer = tokenizer;
        EmbedLayer = new Embed(weights.W_E);
        PosEmbedLayer = new PosEmbed(weights.W_pos);
        Blocks = weights.Blocks.Select((w, l) => new TransformerBlock(w, l, config.LayerNormEps)).ToArray();
        LnFinal = new LayerNorm(weights.LnFinalW, weights.LnFinalB, config.LayerNormEps, HookNames.LnFinalScale, HookNames.LnFinalNormalized, null);
        UnembedLayer = new Unembed(weights.W_U, weights.b_U);
        HookPointNames = HookNames.All(config.NLayers);
        _hookNames = new HashSet<string>(HookPointNames, StringComparer.Ordinal);
    }

    public ModelConfig Config { get; }
    public TransformerWeights Weights { get; }
    /// <summary>True when fold_ln / centring / value-bias folding were applied (TransformerLens' from_pretrained default).</summary>
    public bool WeightsProcessed { get; }
    public Gpt2Tokenizer? Tokenizer { get; }
    public Embed EmbedLayer { get; }
    public PosEmbed PosEmbedLayer { get; }
    public TransformerBlock[] Blocks { get; }
    public LayerNorm LnFinal { get; }
    public Unembed UnembedLayer { get; }
    /// <summary>Every hook point, in the order the forward pass reaches them.</summary>
    public IReadOnlyList<string> HookPointNames { get; }

    /// <summary>The tokenizer, or a clear error for models built without one.</summary>
    public Gpt2Tokenizer RequireTokenizer() => Tokenizer
        ?? throw new InvalidInputException("this model has no tokenizer: pass token ids instead of text");

    /// <summary>Logits for <paramref name="tokens"/>: [batch, pos, d_vocab] (or [batch, d_vocab] with LogitsMode.Final).</summary>
    public Tensor Forward(TokenBatch tokens, ForwardOptions? options = null) => Run(tokens, options ?? new ForwardOptions());

    public Tensor Forward(IReadOnlyList<int> tokens) => Forward(TokenBatch.Single(tokens));

    /// <summary>Forward pass that records the activations whose names pass <paramref name="namesFilter"/> (all when null).</summary>
    public (Tensor Logits, ActivationCache Cache) RunWithCache(TokenBatch tokens, Func<string, bool>? namesFilter = null,
        LogitsMode logits = LogitsMode.All)
    {
        var cache = new ActivationCache(this);
        var result = Run(tokens, new ForwardOptions { Cache = cache, CacheFilter = namesFilter, Logits = logits });
        return (result, cache);
    }

    /// <summary>Caches exactly the listed hook names (validated).</summary>
    public (Tensor Logits, ActivationCache Cache) RunWithCache(TokenBatch tokens, IEnumerable<string> names, LogitsMode logits = LogitsMode.All)
    {
        var set = new HashSet<string>(names.Select(n => ValidateHookName(n)), StringComparer.Ordinal);
        return RunWithCache(tokens, set.Contains, logits);
    }

    /// <summary>Forward pass with temporary hooks; they are gone when the call returns or throws.</summary>
    public Tensor RunWithHooks(TokenBatch tokens, IEnumerable<Hook> hooks, LogitsMode logits = LogitsMode.All) =>
        Run(tokens, new ForwardOptions { Hooks = hooks.ToList(), Logits = logits });

    /// <summary>The general forward pass all the convenience methods call.</summary>
    public Tensor Run(TokenBatch tokens, ForwardOptions options)
    {
        foreach (var hook in options.Hooks ?? []) ValidateHookName(hook.Name);
        var ctx = new ForwardContext(options.Hooks, options.Cache, options.CacheFilter);
        int batch = tokens.Batch, pos = tokens.Pos, offset = options.KvCache?.Length ?? 0;
        if (offset + pos > Config.NCtx)
            throw new InvalidInputException($"prompt of {offset + pos} tokens is longer than the model's context of {Config.NCtx} tokens: shorten it");

        Tensor resid;
        if (options.StartAtLayer > 0)
        {
            resid = options.ResidualInput ?? throw new InvalidInputException($"StartAtLayer {options.StartAtLayer} needs ResidualInput (its resid_pre)");
            resid.RequireShape("residual input", batch, pos, Config.DModel);
        }
        else
        {
            var embed = ctx.Apply(HookNames.Embed, null, EmbedLayer.Forward(tokens.Ids, batch, pos));
            var posEmbed = ctx.Apply(HookNames.PosEmbed, null, PosEmbedLayer.Forward(batch, pos, offset));
            resid = Tensor.Uninitialized(batch, pos, Config.DModel);
            System.Numerics.Tensors.TensorPrimitives.Add(embed.Data, posEmbed.Data, resid.Data);
        }

        int stop = options.StopAtLayer ?? Config.NLayers;
        for (int l = options.StartAtLayer; l < stop; l++) resid = Blocks[l].Forward(resid, ctx, options.KvCache);
        if (options.KvCache is not null) options.KvCache.Length = offset + pos;
        if (options.StopAtLayer is not null && options.StopAtLayer < Config.NLayers) return resid;

        var normalized = LnFinal.Forward(resid, ctx);
        return options.Logits switch
        {
            LogitsMode.None => normalized,
            LogitsMode.Final => new Tensor(UnembedLayer.Forward(GatherFinal(normalized, tokens), batch), batch, Config.DVocab),
            _ => new Tensor(UnembedLayer.Forward(normalized.Data, batch * pos), batch, pos, Config.DVocab),
        };
    }

    /// <summary>Rows of <paramref name="x"/> [batch, pos, d] at each prompt's final real position: [batch, d].</summary>
    public static float[] GatherFinal(Tensor x, TokenBatch tokens)
    {
        int d = x.Dim(2);
        var rows = new float[tokens.Batch * d];
        for (int b = 0; b < tokens.Batch; b++)
            x.Data.AsSpan((b * x.Dim(1) + tokens.FinalPosition(b)) * d, d).CopyTo(rows.AsSpan(b * d));
        return rows;
    }

    /// <summary>Accepts full names and short aliases; an unknown name is an error listing close matches.</summary>
    public string ValidateHookName(string name)
    {
        if (_hookNames.Contains(name)) return name;
        try
        {
            string full = HookNames.GetActName(name);
            if (_hookNames.Contains(full)) return full;
        }
        catch (InvalidInputException) { }
        var close = HookPointNames.OrderBy(n => Levenshtein(n, name)).Take(3);
        throw new InvalidInputException($"unknown hook name '{name}': did you mean {string.Join(", ", close.Select(c => $"'{c}'"))}?");
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
