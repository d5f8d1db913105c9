using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>Which logits a forward pass computes: all positions, only each prompt's final real position, or none.</summary>
public enum LogitsMode
{
    /// <summary>Logits at every position: [batch, pos, columns].</summary>
    All,
    /// <summary>Logits at each prompt's final real position only: [batch, columns] (the final positions are the pass's
    /// <see cref="ForwardOptions.QueryRows"/>, so the last block runs in full only where a hook or the cache needs it).</summary>
    Final,
    /// <summary>No unembedding: the pass returns ln_final.hook_normalized.</summary>
    None,
}

/// <summary>
/// Options of one forward call: TransformerLens' start_at_layer / stop_at_layer, hooks and caching, and the
/// shortcuts of a caller that reads little (a KV prefix, query rows, a few unembedding columns). Every combination
/// computes the same numbers as the full forward at the places it returns (up to float rounding).
/// "columns" below is d_vocab, or <see cref="UnembedColumns"/>.Tokens.Count when set.
/// </summary>
public sealed record ForwardOptions
{
    /// <summary>Hooks run on this call only (validated hook names).</summary>
    public IReadOnlyList<Hook>? Hooks { get; init; }

    /// <summary>Activation cache to fill, and which hook names to keep (<see cref="CacheFilter"/>; null = all).</summary>
    public ActivationCache? Cache { get; init; }

    /// <summary>Which hook names <see cref="Cache"/> keeps (null = all).</summary>
    public Func<string, bool>? CacheFilter { get; init; }

    /// <summary>Begin at this block (0..n_layers), feeding <see cref="ResidualInput"/> as its resid_pre; n_layers goes
    /// straight to ln_final. The embedding hooks and earlier blocks do not run.</summary>
    public int StartAtLayer { get; init; }

    /// <summary>[batch, pos, d_model]: resid_pre of <see cref="StartAtLayer"/> at this call's positions; needed when it
    /// is above 0.</summary>
    public Tensor? ResidualInput { get; init; }

    /// <summary>Stop before this block and return its resid_pre [batch, pos, d_model] instead of logits (null = run to the end).</summary>
    public int? StopAtLayer { get; init; }

    /// <summary>
    /// Stop right after this hook point and return its activation (after any hook on it ran) instead of logits
    /// (null = run to the end). One of a block's main-path hook points: <c>blocks.L.hook_resid_pre</c>,
    /// <c>hook_resid_mid</c>, <c>mlp.hook_pre</c>, <c>mlp.hook_post</c>, <c>hook_mlp_out</c> or <c>hook_resid_post</c>
    /// (a full hook name, checked like a hook's). Nothing after it is computed: with <c>blocks.L.mlp.hook_post</c> the pass skips that block's W_out, every later block
    /// and the unembedding (a caller that reads only neuron activations, such as the neuron index). Cannot be combined
    /// with <see cref="StopAtLayer"/>, <see cref="QueryRows"/> or <see cref="KvCache"/>.
    /// </summary>
    public string? StopAfter { get; init; }

    /// <summary>Which logits to compute (ignored with <see cref="QueryRows"/> except <see cref="LogitsMode.None"/>).</summary>
    public LogitsMode Logits { get; init; } = LogitsMode.All;

    /// <summary>Earlier positions' keys and values (a prefix of <see cref="KvCache.Length"/> positions); this call's
    /// positions continue after them and are appended.</summary>
    public KvCache? KvCache { get; init; }

    /// <summary>
    /// [batch] the one position (0 ≤ row &lt; pos, counted in this call's positions) whose output is wanted in each
    /// sequence. The result is read there: logits [batch, columns], or ln_final.hook_normalized [batch, 1, d_model]
    /// with <see cref="LogitsMode.None"/>. The last block computes keys and values at every position but queries,
    /// attention output, ln2, the MLP and ln_final only at these rows, unless a hook or the cache observes the last
    /// block or ln_final (then it runs in full and the rows are read afterwards). Cannot be combined with a
    /// <see cref="StopAtLayer"/> below n_layers.
    /// </summary>
    public IReadOnlyList<int>? QueryRows { get; init; }

    /// <summary>Compute only these vocabulary columns of the unembedding (build once per token list and reuse):
    /// logits then have <see cref="UnembedColumns.Tokens"/>.Count columns, in that order.</summary>
    public UnembedColumns? UnembedColumns { get; init; }

    /// <summary>
    /// Where the pass takes activation memory from and gives dead activations back to. Every pass recycles within
    /// itself (a pool of its own when this is null, dropped at the end); a caller that runs many passes of one shape
    /// passes one pool so that later passes allocate nothing (the neuron index does). Thread-safe: concurrent passes may
    /// share one. Nothing the pass returns, caches or shows to a keeping hook is ever given back. The logits are taken
    /// from it too (unless <see cref="LogitsBuffer"/> is set), so a caller done with one call's logits may
    /// <see cref="TensorPool.Give"/> their data back for the next call.
    /// </summary>
    public TensorPool? Pool { get; init; }

    /// <summary>
    /// A tensor to write the logits into and return, of exactly the shape the pass returns ([batch, pos, columns], or
    /// [batch, columns] for final positions and query rows); null (the default) returns a new tensor each call. A loop
    /// that is done with each call's logits before the next passes the same tensor every time: steady-state passes
    /// then allocate no logits and take no page faults for them (GPT-2's 8 x 8 logits are 12.9 MB). The next call that
    /// gets it overwrites it. Only for passes that return logits.
    /// </summary>
    public Tensor? LogitsBuffer { get; init; }

    /// <summary>
    /// Whether a hook may keep the tensor it is given after its call returns (default true: hook-based caches do).
    /// Set false when every hook only reads its activation during the call (or returns a replacement): the pass may then
    /// reuse the memory of hooked activations too. A hook that stores the tensor it was given would later see it
    /// overwritten, so leave this true unless every hook is known.
    /// </summary>
    public bool HooksKeepActivations { get; init; } = true;

    /// <summary>
    /// ln1(resid_pre)·[W_Q | W_K | W_V] + [b_Q | b_K | b_V] of block <see cref="StartAtLayer"/> [batch·pos, 3·n_heads·d_head],
    /// when the caller already has it (patching computes it without a GEMM for single-neuron patches). That block's
    /// ln1 hooks do not run. Internal: only the exact patching engine needs it.
    /// </summary>
    internal float[]? StartQkv { get; init; }
}
