using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tokenization;

namespace SharpLens.Analysis;

/// <summary>
/// What one attention head attends to and what one MLP neuron does, as plain arrays: read from an
/// <see cref="ActivationCache"/> that holds the hook, or from one forward pass that caches only the hooks needed. The
/// one place commands, studies, the explorer and examples take a head's pattern or a neuron's activations from.
/// </summary>
public static class ComponentActivations
{
    /// <summary>The attention pattern of <paramref name="head"/> on prompt <paramref name="prompt"/>:
    /// <c>blocks.{l}.attn.hook_pattern[prompt, head, :n, :n]</c>, row q the attention of query position q over the key
    /// positions.</summary>
    /// <param name="cache">a cache holding <c>blocks.{l}.attn.hook_pattern</c> [batch, head, query_pos, key_pos]</param>
    /// <param name="head">the head</param>
    /// <param name="prompt">the batch row</param>
    /// <param name="positions">n, the prompt's real length (default: every cached position)</param>
    /// <returns>[query_pos, key_pos]</returns>
    public static float[,] HeadPattern(this ActivationCache cache, HeadId head, int prompt = 0, int? positions = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        head.RequireIn(cache.Model.Config);
        var pattern = cache[HookNames.Pattern(head.Layer)];
        int batch = pattern.Dim(0), heads = pattern.Dim(1), pos = pattern.Dim(2);
        int n = Positions(positions, pos, prompt, batch);
        var values = new float[n, n];
        for (int q = 0; q < n; q++)
            pattern.Data.AsSpan(((prompt * heads + head.Head) * pos + q) * pos, n).CopyTo(MemoryRow(values, q));
        return values;
    }

    /// <summary>The activation of <paramref name="neuron"/> at each position of prompt <paramref name="prompt"/>:
    /// <c>blocks.{l}.mlp.hook_post[prompt, :n, neuron]</c>.</summary>
    /// <param name="cache">a cache holding <c>blocks.{l}.mlp.hook_post</c> [batch, pos, d_mlp]</param>
    /// <param name="neuron">the neuron</param>
    /// <param name="prompt">the batch row</param>
    /// <param name="positions">n, the prompt's real length (default: every cached position)</param>
    /// <returns>[pos]</returns>
    public static float[] NeuronActivations(this ActivationCache cache, NeuronId neuron, int prompt = 0, int? positions = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        neuron.RequireIn(cache.Model.Config);
        var post = cache[HookNames.MlpPost(neuron.Layer)];
        int batch = post.Dim(0), pos = post.Dim(1), dMlp = post.Dim(2);
        int n = Positions(positions, pos, prompt, batch);
        var values = new float[n];
        for (int p = 0; p < n; p++) values[p] = post.Data[(prompt * pos + p) * dMlp + neuron.Neuron];
        return values;
    }

    /// <summary>One forward pass of <paramref name="ids"/> (caching only the patterns of the heads' layers) and the
    /// pattern of each head.</summary>
    /// <param name="model">the model</param>
    /// <param name="ids">[pos] the prompt's token ids</param>
    /// <param name="heads">the heads, each checked against the model first</param>
    /// <returns>[head] of [query_pos, key_pos]</returns>
    public static float[][,] HeadPatterns(HookedTransformer model, IReadOnlyList<int> ids, IReadOnlyList<HeadId> heads)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var h in heads) h.RequireIn(model.Config);
        var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), heads.Select(h => HookNames.Pattern(h.Layer)).Distinct(), LogitsMode.None);
        return heads.Select(h => cache.HeadPattern(h)).ToArray();
    }

    /// <summary>One forward pass of <paramref name="tokens"/> (caching only the neurons' layers' mlp.hook_post) and
    /// each neuron's activations on every prompt, at the prompt's real positions.</summary>
    /// <param name="model">the model</param>
    /// <param name="tokens">[prompt, pos] the prompts (right-padded; padding positions are left out)</param>
    /// <param name="neurons">the neurons, each checked against the model first</param>
    /// <returns>[neuron][prompt] of [that prompt's length]</returns>
    public static float[][][] NeuronActivations(HookedTransformer model, TokenBatch tokens, IReadOnlyList<NeuronId> neurons)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        foreach (var n in neurons) n.RequireIn(model.Config);
        if (neurons.Count == 0) return [];
        var (_, cache) = model.RunWithCache(tokens, neurons.Select(n => HookNames.MlpPost(n.Layer)).Distinct(), LogitsMode.None);
        return neurons.Select(n => Enumerable.Range(0, tokens.Batch).Select(b => cache.NeuronActivations(n, b, tokens.Lengths[b])).ToArray()).ToArray();
    }

    private static int Positions(int? positions, int cached, int prompt, int batch)
    {
        if ((uint)prompt >= (uint)batch) throw new ArgumentOutOfRangeException(nameof(prompt), $"prompt {prompt} is not in the cached batch of {batch}");
        int n = positions ?? cached;
        if (n < 0 || n > cached) throw new ArgumentOutOfRangeException(nameof(positions), $"{n} positions asked, the cache holds {cached}");
        return n;
    }

    private static Span<float> MemoryRow(float[,] matrix, int row) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref matrix[row, 0], matrix.GetLength(1));
}
