using SharpLens.Model.Components;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Patching;

/// <summary>Memory layout of a patched activation.</summary>
internal enum SliceLayout
{
    /// <summary>[batch, pos, W] with W = the product of the later axes (d_model, heads·d_head, d_mlp).</summary>
    PositionMajor,
    /// <summary>attn.hook_pattern [batch, head, query_pos, key_pos]; the "position" is the query.</summary>
    Pattern,
}

/// <summary>
/// A built-in patch: copy a slice of the source run's activation into the patched run, at one position per prompt
/// (or all positions) and, within each position, elements [FeatureStart, FeatureStart + FeatureCount) (a head's
/// d_head block, a neuron, or everything) or, for patterns, one head's rows.
/// </summary>
/// <remarks>Because the model is causal, patching query position p changes nothing before p; copying values equal to
/// the ones already there changes nothing at all. <see cref="FirstChange"/> uses both facts to tell an exact run
/// where it may resume.</remarks>
internal sealed class SlicePatch(int cell, string hookName, int layer, SliceLayout layout, int[]? positions,
    int featureStart, int featureCount, int head) : PatchVariant(cell, hookName, layer)
{
    /// <summary>[prompt] absolute position patched, or null for every position.</summary>
    public int[]? Positions { get; } = positions;

    public static SlicePatch Whole(int cell, string hook, int layer, int[]? positions) =>
        new(cell, hook, layer, SliceLayout.PositionMajor, positions, 0, -1, 0);
    public static SlicePatch Features(int cell, string hook, int layer, int[]? positions, int start, int count) =>
        new(cell, hook, layer, SliceLayout.PositionMajor, positions, start, count, 0);
    /// <summary>The patch of <paramref name="site"/> filling cell <paramref name="cell"/>; <paramref name="resolve"/>
    /// maps a site position to [prompt] absolute positions.</summary>
    public static SlicePatch At(int cell, PatchSite site, Model.ModelConfig config, Func<int, int[]> resolve)
    {
        site.Validate(config);
        int[]? at = site.Position is int p ? resolve(p) : null;
        string hook = site.HookName;
        return site.Activation switch
        {
            "pattern" => PatternHead(cell, hook, site.Layer, site.HeadIndex!.Value, at),
            "q" or "k" or "v" or "z" => Features(cell, hook, site.Layer, at, site.HeadIndex!.Value * config.DHead, config.DHead),
            "post" => Features(cell, hook, site.Layer, at, site.NeuronIndex!.Value, 1),
            _ => Whole(cell, hook, site.Layer, at),
        };
    }

    /// <summary>One head's attention pattern, at every query position or, with <paramref name="positions"/>, at one
    /// query (destination) position per prompt.</summary>
    public static SlicePatch PatternHead(int cell, string hook, int layer, int head, int[]? positions = null) =>
        new(cell, hook, layer, SliceLayout.Pattern, positions, 0, -1, head);

    /// <summary>How this patch's change reaches the rest of the model (<see cref="TransformerBlock.EntryOf"/>): only
    /// whole positions of a block's hook point can enter through the residual stream; pattern rows never do.</summary>
    public ResidualEntry EntryIn(Model.HookedTransformer model) =>
        layout == SliceLayout.PositionMajor && HookName.StartsWith("blocks.", StringComparison.Ordinal)
            ? model.Blocks[Layer].EntryOf(HookName) : ResidualEntry.Inside;

    /// <summary>Absolute positions [From, To) of prompt <paramref name="prompt"/> this patch changes in a pass whose
    /// positions are [<paramref name="offset"/>, offset + <paramref name="newPos"/>) (empty when it changes none there).</summary>
    public (int From, int To) ChangedPositions(int prompt, int offset, int newPos)
    {
        int from = Positions is null ? offset : Positions[prompt], to = Positions is null ? offset + newPos : Positions[prompt] + 1;
        return (Math.Max(from, offset), to);
    }

    /// <summary>
    /// Adds what the patch changes where it enters the residual stream to <paramref name="resid"/> [rows, newPos,
    /// d_model] (row <paramref name="row"/>, first position <paramref name="offset"/>): source - target for the
    /// residual-wide hooks, Σ_f (source - target)[f]·projection[f, :] otherwise (<see cref="TransformerBlock.ResidualProjection"/>:
    /// neurons of mlp.hook_post through W_out, a head's z through W_O).
    /// </summary>
    public void AddResidualDelta(Tensor resid, int row, int prompt, int offset, Tensor source, Tensor target, Tensor? projection)
    {
        int newPos = resid.Dim(1), d = resid.Dim(2);
        var (from, to) = ChangedPositions(prompt, offset, newPos);
        for (int p = from; p < to; p++)
        {
            var src = At(source, prompt, p, 0);
            var tgt = At(target, prompt, p, 0);
            var dst = resid.Data.AsSpan((row * newPos + p - offset) * d, d);
            if (projection is null)
            {
                var part = dst.Slice(featureStart, src.Length);
                for (int i = 0; i < src.Length; i++) part[i] += src[i] - tgt[i];
                continue;
            }
            for (int f = 0; f < src.Length; f++)
            {
                float delta = src[f] - tgt[f];
                if (delta != 0f)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(projection.Data.AsSpan((featureStart + f) * d, d), delta, dst, dst);
            }
        }
    }

    /// <summary>True for a patch of one MLP neuron (mlp.hook_post, one feature): its change to the block's output
    /// is Δpost·W_out[<see cref="Neuron"/>] at each patched position.</summary>
    public bool IsSingleNeuron => layout == SliceLayout.PositionMajor && featureCount == 1
        && HookName.EndsWith(".mlp.hook_post", StringComparison.Ordinal);

    /// <summary>The patched neuron (first feature) index.</summary>
    public int Neuron => featureStart;

    /// <summary>Source - target of the patched neuron at (<paramref name="prompt"/>, absolute <paramref name="pos"/>),
    /// 0 where the patch does not reach; <paramref name="source"/> and <paramref name="target"/> [prompt, pos, d_mlp].</summary>
    public float NeuronDelta(int prompt, int pos, Tensor source, Tensor target)
    {
        if (Positions is not null && Positions[prompt] != pos) return 0f;
        int w = source.Dim(2), i = (prompt * source.Dim(1) + pos) * w + featureStart;
        return source.Data[i] - target.Data[i];
    }

    /// <summary>Positions of <paramref name="t"/> present in the tensor (query positions for patterns).</summary>
    private int PositionCount(Tensor t) => layout == SliceLayout.Pattern ? t.Dim(2) : t.Dim(1);

    /// <summary>The slice of <paramref name="t"/> at batch row <paramref name="row"/> and absolute position
    /// <paramref name="pos"/>, when the tensor's first position is <paramref name="offset"/>.</summary>
    private Span<float> At(Tensor t, int row, int pos, int offset)
    {
        if (layout == SliceLayout.Pattern)
        {
            int heads = t.Dim(1), q = t.Dim(2), k = t.Dim(3);
            return t.Data.AsSpan(((row * heads + head) * q + pos - offset) * k, k);
        }
        int p = t.Dim(1), w = t.Length / (t.Dim(0) * p);
        return t.Data.AsSpan((row * p + pos - offset) * w + featureStart, featureCount < 0 ? w : featureCount);
    }

    /// <summary>Copies the slice of prompt <paramref name="prompt"/> from <paramref name="source"/> [prompt, pos, ...]
    /// into batch row <paramref name="row"/> of <paramref name="activation"/>, whose positions start at <paramref name="offset"/>.</summary>
    public void Apply(Tensor activation, int row, int prompt, int offset, Tensor source)
    {
        if (Positions is not null)
        {
            // A position before the offset holds the same values in both runs (see FirstChange): nothing to copy.
            int p = Positions[prompt];
            if (p >= offset) At(source, prompt, p, 0).CopyTo(At(activation, row, p, offset));
            return;
        }
        int end = offset + PositionCount(activation);
        for (int p = offset; p < end; p++) At(source, prompt, p, 0).CopyTo(At(activation, row, p, offset));
    }

    /// <summary>Σ over the patched slice of prompt <paramref name="prompt"/> of (source - target)·gradient: attribution
    /// patching's first-order estimate of this patch (all three [prompt, pos, ...] in the hook's shape).</summary>
    public double Contract(Tensor source, Tensor target, Tensor gradient, int prompt)
    {
        double sum = 0;
        if (Positions is not null) return Term(Positions[prompt]);
        int n = PositionCount(source);
        for (int p = 0; p < n; p++) sum += Term(p);
        return sum;

        double Term(int p)
        {
            var s = At(source, prompt, p, 0);
            var t = At(target, prompt, p, 0);
            var g = At(gradient, prompt, p, 0);
            if (s.Length == 1) return (s[0] - t[0]) * g[0];
            float[]? rented = s.Length > 1024 ? System.Buffers.ArrayPool<float>.Shared.Rent(s.Length) : null;
            Span<float> diff = rented is null ? stackalloc float[s.Length] : rented.AsSpan(0, s.Length);
            System.Numerics.Tensors.TensorPrimitives.Subtract(s, t, diff);
            double dot = System.Numerics.Tensors.TensorPrimitives.Dot(diff, g);
            if (rented is not null) System.Buffers.ArrayPool<float>.Shared.Return(rented);
            return dot;
        }
    }

    /// <summary>First absolute position where the patched slice differs between <paramref name="source"/> and
    /// <paramref name="target"/> (both [prompt, pos, ...]) in any prompt; int.MaxValue when the patch changes nothing.</summary>
    public int FirstChange(Tensor source, Tensor target)
    {
        int first = int.MaxValue, prompts = source.Dim(0);
        for (int b = 0; b < prompts; b++)
        {
            if (Positions is not null)
            {
                int p = Positions[b];
                if (p < first && !SameBits(At(source, b, p, 0), At(target, b, p, 0))) first = p;
                continue;
            }
            int n = Math.Min(first, PositionCount(source));
            for (int p = 0; p < n; p++)
                if (!SameBits(At(source, b, p, 0), At(target, b, p, 0))) { first = p; break; }
        }
        return first;
    }

    /// <summary>Equal as bit patterns: only then is copying a no-op (float equality calls 0 and -0 equal, and a copied
    /// -0 can change a later sign or division).</summary>
    internal static bool SameBits(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(a).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b));
}
