using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Model;

/// <summary>
/// A transformer language model with a hook point on every intermediate activation, named as in TransformerLens.
/// The model only composes its components (docs/architecture.md, "Components"); loading, weight processing, tokens
/// and analyses live elsewhere.
/// </summary>
public sealed class HookedTransformer
{
    private readonly Dictionary<string, HookDeclaration> _declarations;
    private readonly string[] _lastBlockHooks; // hook points of the last block and ln_final (query rows shorten them)

    /// <summary>A model of <paramref name="config"/>'s shape over <paramref name="weights"/> (not copied);
    /// <paramref name="weightsProcessed"/> says whether TransformerLens' weight processing was applied to them.
    /// Without a <paramref name="tokenizer"/> the model takes token ids only.</summary>
    public HookedTransformer(ModelConfig config, TransformerWeights weights, bool weightsProcessed, Tokenizer? tokenizer = null)
    {
        config.Validate();
        Config = config;
        Weights = weights;
        WeightsProcessed = weightsProcessed;
        Tokenizer = tokenizer;
        EmbedLayer = new Embed(weights.W_E);
        if (config.IsRotary != (weights.W_pos is null))
            throw new InvalidCheckpointException(config.IsRotary ? "a rotary model has no pos_embed.W_pos: drop it from the weights"
                : "pos_embed.W_pos is missing: a model with positional_embedding_type standard needs learned positions");
        PosEmbedLayer = weights.W_pos is null ? null : new PosEmbed(weights.W_pos);
        var rotary = config.IsRotary ? new RotaryEmbedding(config) : null;   // one table of angles for every block
        Blocks = weights.Blocks.Select((w, l) => new TransformerBlock(config, w, l, rotary)).ToArray();
        LnFinal = Normalization.Create(config, "ln_final", null, weights.LnFinalW, weights.LnFinalB, rms: config.FinalRms);
        UnembedLayer = new Unembed(weights.W_U, weights.b_U);
        // The ordered hook list is what the components declare, in the order the forward pass reaches them.
        var declared = new List<HookDeclaration> { Embed.HookPoint };
        if (PosEmbedLayer is not null) declared.Add(PosEmbed.HookPoint);
        foreach (var block in Blocks) declared.AddRange(block.HookPoints());
        declared.AddRange(LnFinal.HookPoints());
        _declarations = declared.ToDictionary(h => h.Name, StringComparer.Ordinal);
        HookPointNames = declared.Select(h => h.Name).ToArray();
        string lastBlock = $"blocks.{config.NLayers - 1}.";
        _lastBlockHooks = HookPointNames.Where(n => n.StartsWith(lastBlock, StringComparison.Ordinal) || n.StartsWith("ln_final.", StringComparison.Ordinal)).ToArray();
    }

    /// <summary>Sizes of the model (n_layers, d_model, n_heads, d_head, d_mlp, d_vocab, n_ctx).</summary>
    public ModelConfig Config { get; }
    /// <summary>Every parameter, in TransformerLens' names and shapes.</summary>
    public TransformerWeights Weights { get; }
    /// <summary>True when fold_ln / centring / value-bias folding were applied (TransformerLens' from_pretrained default).</summary>
    public bool WeightsProcessed { get; }
    /// <summary>The model's tokenizer, or null for a model that takes token ids only (see <see cref="MissingTokenizer"/>).</summary>
    public Tokenizer? Tokenizer { get; }
    /// <summary>Why <see cref="Tokenizer"/> is null, as one phrase naming what was looked for (e.g. "models/tiny has no
    /// tokenizer.json, tokenizer.model or vocab.json + merges.txt"); null when the model has a tokenizer.</summary>
    public string? MissingTokenizer
    {
        get => Tokenizer is null ? _missingTokenizer ?? "the model was built without a tokenizer" : null;
        init => _missingTokenizer = value;
    }
    private readonly string? _missingTokenizer;
    /// <summary>Token embedding (embed, W_E).</summary>
    public Embed EmbedLayer { get; }
    /// <summary>Learned positional embedding (pos_embed, W_pos), or null for rotary models.</summary>
    public PosEmbed? PosEmbedLayer { get; }
    /// <summary>The transformer blocks, blocks.0 to blocks.{n_layers-1}.</summary>
    public TransformerBlock[] Blocks { get; }
    /// <summary>The final normalization (ln_final), before the unembedding.</summary>
    public Normalization LnFinal { get; }
    /// <summary>The unembedding (unembed, W_U and b_U).</summary>
    public Unembed UnembedLayer { get; }
    /// <summary>Every hook point, in the order the forward pass reaches them (as the components declare them).</summary>
    public IReadOnlyList<string> HookPointNames { get; }

    /// <summary>The axes of a hook point's activation in TransformerLens' names, e.g. <c>[batch, pos, d_model]</c> or
    /// <c>[batch, head_index, query_pos, key_pos]</c> (key_pos counts cached earlier positions too).</summary>
    /// <param name="hookName">a hook point of this model (full name or short alias)</param>
    public IReadOnlyList<string> HookShape(string hookName) => _declarations[ValidateHookName(hookName)].Axes;

    /// <summary>The concrete shape of a hook point's activation for a forward pass of <paramref name="batch"/> prompts
    /// of <paramref name="pos"/> positions after <paramref name="past"/> cached positions (key_pos = past + pos).</summary>
    /// <param name="hookName">a hook point of this model</param>
    /// <param name="batch">prompts in the pass</param>
    /// <param name="pos">positions in the pass</param>
    /// <param name="past">cached positions before them</param>
    public int[] HookShape(string hookName, int batch, int pos, int past = 0) => HookShape(hookName).Select(axis => axis switch
    {
        "batch" => batch, "pos" or "query_pos" => pos, "key_pos" => past + pos, "d_model" => Config.DModel,
        "head_index" => Config.NHeads, "kv_head_index" => Config.KeyValueHeads, "d_head" => Config.DHead, "d_mlp" => Config.DMlp, "1" => 1,
        _ => throw new InvalidOperationException($"unknown axis {axis}"),
    }).ToArray();

    /// <summary>The forward activations the backward pass reads (cache them, e.g. with <see cref="ForwardOptions.CacheFilter"/>,
    /// before calling it): with <paramref name="parameters"/> also what parameter gradients read.</summary>
    /// <param name="parameters">whether parameter gradients will be asked for</param>
    internal IReadOnlyList<string> BackwardHooks(bool parameters = false)
    {
        var names = Blocks.SelectMany(b => b.BackwardHooks(parameters)).Append(HookNames.ResidPost(Config.NLayers - 1));
        if (parameters) names = names.Append(HookNames.LnFinalNormalized);
        return names.Distinct().ToArray();
    }

    /// <summary>Packs every block's transposed backward weights (blocks in parallel) unless they are held.</summary>
    internal void PrepareBackward() => Parallel.For(0, Blocks.Length, l => Blocks[l].PrepareBackward());

    /// <summary>
    /// The weights were changed in place (a training step updates <see cref="Weights"/>): every packed copy the
    /// components hold (the forward's, and the backward's when held) is packed again from them into its own storage,
    /// blocks in parallel, so the next pass computes with the new values exactly as a model built from them would,
    /// without allocating. Weights that are not packed (embeddings, LayerNorm, most biases) are read in place anyway.
    /// </summary>
    internal void RepackWeights()
    {
        Parallel.For(0, Blocks.Length, l => Blocks[l].RepackWeights());
        UnembedLayer.RepackWeights();
    }

    /// <summary>Whether any block holds backward weights (tests).</summary>
    internal bool HoldsBackwardWeights => Blocks.Any(b => b.HoldsBackwardWeights);

    /// <summary>
    /// The backward pass (attribution patching, EAP edge scores) packs transposed copies of the weights on its first
    /// use (~0.35 GB for GPT-2 small) and keeps them for later passes. Call this when no more backward passes are
    /// coming to give that memory back; a later backward pass builds them again.
    /// </summary>
    public void ReleaseBackwardWeights()
    {
        foreach (var block in Blocks) block.ReleaseBackwardWeights();
    }

    /// <summary>Block <paramref name="layer"/>'s MLP, or a clear error for attn_only models (which have no neurons).</summary>
    /// <param name="layer">the block</param>
    public Mlp RequireMlp(int layer) => Blocks[layer].Mlp
        ?? throw new InvalidInputException($"block {layer} of {Config.ModelName} has no MLP (attn_only model): neuron analyses need MLP layers");

    /// <summary>The tokenizer, or an <see cref="InvalidInputException"/> saying what is missing and to give token ids.</summary>
    public Tokenizer RequireTokenizer() => Tokenizer ?? throw NoTokenizerError("text input");

    /// <summary>The one-line error for text where only token ids work: <paramref name="what"/> needs a tokenizer, what
    /// was looked for, and the fix.</summary>
    public InvalidInputException NoTokenizerError(string what) => TokenizerLoadResult.NoTokenizerError(what, MissingTokenizer ?? "");

    /// <summary>Logits for <paramref name="tokens"/>: [batch, pos, d_vocab] (or [batch, d_vocab] with LogitsMode.Final).</summary>
    public Tensor Forward(TokenBatch tokens, ForwardOptions? options = null) => Run(tokens, options ?? new ForwardOptions());

    /// <summary>Logits [1, pos, d_vocab] of one sequence of token ids.</summary>
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

    /// <summary>The general forward pass all the convenience methods call (see <see cref="ForwardOptions"/>).</summary>
    /// <param name="tokens">[batch, pos] token ids (with <see cref="ForwardOptions.StartAtLayer"/> above 0 only their
    /// shape and final positions are read)</param>
    /// <param name="options">Where to start and stop, hooks, cache, KV prefix, query rows and unembedding columns.</param>
    /// <returns>logits [batch, pos, columns] (<see cref="LogitsMode.All"/>) or [batch, columns] (<see cref="LogitsMode.Final"/>,
    /// or at <see cref="ForwardOptions.QueryRows"/>); ln_final.hook_normalized with <see cref="LogitsMode.None"/>; the
    /// resid_pre of <see cref="ForwardOptions.StopAtLayer"/> when it stops early; the activation of
    /// <see cref="ForwardOptions.StopAfter"/> when that is set.</returns>
    public Tensor Run(TokenBatch tokens, ForwardOptions options)
    {
        foreach (var hook in options.Hooks ?? []) ValidateHookName(hook.Name);
        var ctx = new ForwardContext(options.Hooks, options.Cache, options.CacheFilter, options.Pool ?? new TensorPool(), options.HooksKeepActivations);
        int batch = tokens.Batch, pos = tokens.Pos, offset = options.KvCache?.Length ?? 0, nLayers = Config.NLayers;
        if (offset + pos > Config.NCtx)
            throw new InvalidInputException($"prompt of {offset + pos} tokens is longer than the model's context of {Config.NCtx} tokens: shorten it");
        int start = options.StartAtLayer, stop = options.StopAtLayer ?? nLayers;
        var (stopLayer, blockStop) = StopAfterPoint(options, start);
        if (stopLayer >= 0) stop = stopLayer + 1;
        if (start < 0 || start > nLayers)
            throw new InvalidInputException($"StartAtLayer {start} is outside 0..{nLayers}: pick a block of this {nLayers}-layer model");
        if (stop < start || stop > nLayers)
            throw new InvalidInputException($"StopAtLayer {stop} is outside {start}..{nLayers}: stop at or after the start block");
        var queryRows = options.QueryRows?.ToArray();
        if (queryRows is not null)
        {
            if (stop < nLayers) throw new InvalidInputException("QueryRows reads the model's output: leave StopAtLayer unset with it");
            if (queryRows.Length != batch) throw new InvalidInputException($"QueryRows has {queryRows.Length} rows for a batch of {batch}: give one per sequence");
            foreach (int row in queryRows)
                if ((uint)row >= (uint)pos) throw new InvalidInputException($"query row {row} is outside this call's positions 0..{pos - 1}");
        }
        // Final-position logits are query rows at the final positions: the same numbers, without the last block's
        // queries, attention output and MLP at every other position.
        if (queryRows is null && options.Logits == LogitsMode.Final && stop == nLayers && stopLayer < 0) queryRows = tokens.FinalPositions();
        CheckLogitsBuffer(options, stopLayer < 0 && stop == nLayers && options.Logits != LogitsMode.None,
            queryRows is null ? [batch, pos] : [batch]);
        if (options.StartQkv is not null && (start >= nLayers || options.StartQkv.Length != batch * pos * Blocks[start].Attn.Qkv.Width))
            throw new ShapeMismatchException("StartQkv must be [batch·pos, 3·n_heads·d_head] of a block the pass starts at");

        Tensor resid;
        if (start > 0)
        {
            resid = options.ResidualInput ?? throw new InvalidInputException($"StartAtLayer {start} needs ResidualInput (its resid_pre)");
            resid.RequireShape("residual input", batch, pos, Config.DModel);
        }
        else
        {
            var embed = ctx.Apply(HookNames.Embed, null, EmbedLayer.Forward(tokens.Ids, batch, pos));
            if (PosEmbedLayer is null) resid = embed; // rotary: the residual stream starts as the token embeddings
            else
            {
                var posEmbed = ctx.Apply(HookNames.PosEmbed, null, PosEmbedLayer.Forward(batch, pos, offset));
                resid = ctx.Allocate(batch, pos, Config.DModel);
                System.Numerics.Tensors.TensorPrimitives.Add(embed.Data, posEmbed.Data, resid.Data);
            }
        }

        // Query rows shorten the last block and ln_final unless something observes them there.
        bool rowsOnly = queryRows is not null && !_lastBlockHooks.Any(ctx.IsObserved);
        for (int l = start; l < stop; l++)
        {
            bool shortened = rowsOnly && l == nLayers - 1;
            var input = resid;
            resid = Blocks[l].Forward(resid, shortened ? ForwardContext.None : ctx, options.KvCache,
                shortened ? queryRows : null, l == start ? options.StartQkv : null, l == stopLayer ? blockStop : BlockStop.None);
            // The block's input is dead now, unless it flows on (a stop at resid_pre) or a hook point showed it to a keeper.
            if (!ReferenceEquals(input, resid)) ctx.Release(input, HookNames.ResidPre(l), l > start ? HookNames.ResidPost(l - 1) : HookNames.ResidPre(l));
        }
        if (stopLayer >= 0) return resid;
        if (options.KvCache is not null) options.KvCache.Length = offset + pos;
        if (stop < nLayers) return resid;

        if (queryRows is not null)
        {
            // Read at the query rows: [batch, 1, d_model] (the last block already did when rowsOnly and it ran).
            bool lastRanShort = rowsOnly && start < nLayers;
            var normalizedRows = rowsOnly
                ? LnFinal.Forward(lastRanShort ? resid : SequenceRows.Gather(resid, queryRows), ForwardContext.None)
                : SequenceRows.Gather(LnFinal.Forward(resid, ctx), queryRows);
            return options.Logits == LogitsMode.None ? normalizedRows : Unembed(normalizedRows.Data, options, ctx, batch);
        }
        var normalized = LnFinal.Forward(resid, ctx);
        return options.Logits switch
        {
            LogitsMode.None => normalized,
            LogitsMode.Final => Unembed(GatherFinal(normalized, tokens), options, ctx, batch),
            _ => Unembed(normalized.Data, options, ctx, batch, pos),
        };
    }

    /// <summary>hook_embed + hook_pos_embed (= blocks.0.hook_resid_pre; hook_embed alone for rotary models) of
    /// <paramref name="tokens"/>, without hooks.</summary>
    /// <param name="tokens">[batch, pos] token ids (positions from 0)</param>
    /// <param name="destination">[batch·pos·d_model] written</param>
    internal void EmbedRows(TokenBatch tokens, Span<float> destination)
    {
        var embed = EmbedLayer.Forward(tokens.Ids, tokens.Batch, tokens.Pos);
        if (PosEmbedLayer is null) embed.Data.CopyTo(destination);
        else System.Numerics.Tensors.TensorPrimitives.Add(embed.Data, PosEmbedLayer.Forward(tokens.Batch, tokens.Pos, 0).Data, destination);
    }

    /// <summary>The block and point where <see cref="ForwardOptions.StopAfter"/> ends the pass, or (-1, None) without it.</summary>
    private (int Layer, BlockStop Stop) StopAfterPoint(ForwardOptions options, int start)
    {
        if (options.StopAfter is null) return (-1, BlockStop.None);
        if (options.StopAtLayer is not null || options.QueryRows is not null || options.KvCache is not null)
            throw new InvalidInputException("StopAfter cannot be combined with StopAtLayer, QueryRows or a KvCache: use one way of ending the pass");
        var (layer, stop) = BlockStops.Parse(ValidateHookName(options.StopAfter));
        if (layer < start || layer >= Config.NLayers)
            throw new InvalidInputException($"StopAfter '{options.StopAfter}' is outside the blocks this pass runs ({start}..{Config.NLayers - 1})");
        return (layer, stop);
    }

    /// <summary>
    /// Logits [..rowShape, columns] of ln_final.hook_normalized rows [rows, d_model]: every column, or the chosen ones;
    /// written into <see cref="ForwardOptions.LogitsBuffer"/> when given, else into memory taken from the pass's pool.
    /// </summary>
    private Tensor Unembed(ReadOnlySpan<float> normalizedRows, ForwardOptions options, ForwardContext ctx, params int[] rowShape)
    {
        int rows = rowShape.Aggregate(1, (a, b) => a * b);
        int columns = options.UnembedColumns?.Tokens.Count ?? Config.DVocab;
        int[] shape = [.. rowShape, columns];
        var logits = options.LogitsBuffer ?? ctx.Allocate(shape); // CheckLogitsBuffer vetted its shape
        if (options.UnembedColumns is { } chosen) chosen.Forward(normalizedRows, rows, logits.Data);
        else UnembedLayer.Forward(normalizedRows, rows, logits.Data);
        return logits;
    }

    /// <summary>Refuses a <see cref="ForwardOptions.LogitsBuffer"/> that cannot take this pass's logits, before any work.</summary>
    private void CheckLogitsBuffer(ForwardOptions options, bool returnsLogits, params int[] rowShape)
    {
        if (options.LogitsBuffer is not { } buffer) return;
        if (!returnsLogits)
            throw new InvalidInputException("LogitsBuffer is set but this pass returns no logits (LogitsMode.None, StopAtLayer or StopAfter): leave it unset");
        buffer.RequireShape("LogitsBuffer (pass a tensor of the shape this pass returns)", [.. rowShape, options.UnembedColumns?.Tokens.Count ?? Config.DVocab]);
    }

    /// <summary>Rows of <paramref name="x"/> [batch, pos, d] at each prompt's final real position: [batch, d].</summary>
    /// <param name="x">[batch, pos, d]</param>
    /// <param name="tokens">the batch whose final positions are read</param>
    /// <returns>[batch, d] as a flat buffer</returns>
    public static float[] GatherFinal(Tensor x, TokenBatch tokens) =>
        SequenceRows.Gather(x, tokens.FinalPositions()).Data;

    /// <summary>Accepts full names and short aliases; an unknown name is an error listing close matches.</summary>
    public string ValidateHookName(string name)
    {
        if (_declarations.ContainsKey(name)) return name;
        try
        {
            string full = HookNames.GetActName(name);
            if (_declarations.ContainsKey(full)) return full;
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
