using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// Fast patching with the same numbers as <see cref="PlainEngine"/>:
/// (1) a patched run starts at the patched layer from the target run's cached resid_pre;
/// (2) it computes only positions from the first one the patch changes, reading earlier keys/values from the
/// target run's KV cache (a patch that changes nothing is not run at all);
/// (3) many patches x prompts share one batched pass (row i·prompts + b is patch i on prompt b), one hook per
/// hook name patching each row with its own slice; patches with different first changes share a pass only when
/// their passes would be thin (few rows x positions: weight streaming, not FLOPs, sets their time; <see cref="PassPlan"/>);
/// (4) only final positions are unembedded, and only the metric's needed columns of W_U;
/// (5) a patch of resid_post, mlp_out or MLP neurons skips its own block: the run starts at the next block from the
/// target's resid_post plus the patch's change (for a neuron, Δpost·W_out[n]); a patch of resid_mid, attn_out or a
/// head's z skips the block's ln1, Q/K/V and attention: its change (for z, Δz·W_O[h]) joins the target's resid_mid and
/// only ln2 and the MLP run again, at the changed positions, before the next block;
/// (6) the metric reads only final positions, so the last block computes every new position's keys and values but
/// queries, attention output, ln2, MLP and ln_final only at the final rows (the model's <see cref="ForwardOptions.QueryRows"/>,
/// which runs the last block in full when the pass hooks it);
/// (7) for single-neuron patches the block after the patch gets its Q/K/V from <see cref="NeuronQkv"/> (precomputed
/// projections of the target rows and of each neuron's W_out row) instead of a GEMM (<see cref="ForwardOptions.StartQkv"/>).
/// Every step is an ordinary option of <see cref="HookedTransformer.Run"/>; the engine only composes them.
/// </summary>
internal sealed class ExactEngine(HookedTransformer model, PatchingRuns runs, PatchingOptions options)
{
    private readonly Dictionary<int, KvCache> _prefixCaches = [];
    private NeuronQkv? _neuronQkv;

    /// <summary>Work done so far, in rows x positions x blocks run by the patched passes (tests check that a pass
    /// computes no position its patches cannot reach).</summary>
    internal long RowPositionBlocks { get; private set; }

    /// <summary>Per-sweep buffers still held (prefix KV caches, neuron projections): 0 between sweeps.</summary>
    internal int SweepBuffersHeld => _prefixCaches.Count + (_neuronQkv is null ? 0 : 1);

    public void Run(IReadOnlyList<PatchVariant> variants, float[][] results, Action<int> done)
    {
        var pending = new List<(SlicePatch Patch, int Start)>();
        foreach (var variant in variants)
        {
            if (variant is CustomVariant custom) { RunCustom(custom, results); done(1); continue; }
            var slice = (SlicePatch)variant;
            int start = slice.FirstChange(runs.SourceCache[slice.HookName], runs.TargetCache[slice.HookName]);
            if (start == int.MaxValue) { results[slice.Cell] = (float[])runs.TargetBaseline.Clone(); done(1); continue; }
            pending.Add((slice, start));
        }

        int prompts = runs.Target.Batch, lastStart = runs.Target.Lengths.Min() - 1;
        int perPass = Math.Max(1, options.MaxRowsPerPass / prompts);
        // Patches that skip their block (5) share a pass only with patches entering the same way (resid_post or resid_mid).
        foreach (var family in pending.GroupBy(p => (p.Patch.Layer, Entry: p.Patch.EntryIn(model))))
        {
            int startLayer = family.Key.Layer + (family.Key.Entry == ResidualEntry.Inside ? 0 : 1);
            var byStart = family.GroupBy(p => Math.Min(p.Start, lastStart)).OrderBy(g => g.Key)
                .Select(g => (Start: g.Key, Patches: g.Select(p => p.Patch).ToList()));
            foreach (var (start, patches) in PassPlan.Merge(byStart, runs.Target.Pos, prompts, options.ThinPassTokens))
                for (int i = 0; i < patches.Count; i += perPass)
                {
                    var chunk = patches.GetRange(i, Math.Min(perPass, patches.Count - i));
                    RunPass(chunk, startLayer, start, results);
                    done(chunk.Count);
                }
        }
        // The prefix caches ([rows, pos, heads·d_head] per layer used, up to ~95 MB for 128 rows of GPT-2 small) and the
        // neuron projections serve the passes of one sweep; a patcher kept for later sweeps should not hold them.
        _prefixCaches.Clear();
        _neuronQkv = null;
    }

    /// <summary>One batched pass: rows = patches x prompts, from block <paramref name="layer"/> (n_layers: straight to
    /// ln_final), positions ≥ <paramref name="start"/>. Patches of block layer - 1 enter through the residual input
    /// (those of its resid_mid after that block's ln2 and MLP at the positions they change).</summary>
    private void RunPass(List<SlicePatch> patches, int layer, int start, float[][] results)
    {
        bool viaResidual = patches[0].Layer < layer;
        var target = runs.Target;
        int prompts = target.Batch, pos = target.Pos, newPos = pos - start, rows = patches.Count * prompts;
        int d = model.Config.DModel;
        RowPositionBlocks += (long)rows * newPos * (model.Config.NLayers - layer);

        // Target tokens from position `start` on, repeated per patch; [rows, newPos].
        var sequences = new IReadOnlyList<int>[rows];
        var finals = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            int b = r % prompts;
            sequences[r] = target.Ids.AsSpan(b * pos + start, target.Lengths[b] - start).ToArray();
            finals[r] = target.Lengths[b] - 1 - start;
        }
        var tokens = new TokenBatch(sequences, target.PadId);

        // [rows, newPos, d_model]: the target run's resid_pre of `layer` (= resid_post of layer - 1)
        Tensor? resid = layer > 0 ? TargetRows(HookNames.ResidPost(layer - 1), rows, start) : null;

        var hooks = new List<Hook>();
        if (viaResidual)
        {
            // (5) The change joins the residual stream after the block (resid_post) or inside it (resid_mid, then the
            // block's ln2 and MLP run again at the changed positions only: attention comes before it and is unchanged).
            var block = model.Blocks[layer - 1];
            bool viaMid = patches[0].EntryIn(model) == ResidualEntry.ResidMid;
            var entry = viaMid ? TargetRows(HookNames.ResidMid(layer - 1), rows, start) : resid!;
            for (int i = 0; i < patches.Count; i++)
            {
                Tensor source = runs.SourceCache[patches[i].HookName], targetAct = runs.TargetCache[patches[i].HookName];
                var projection = block.ResidualProjection(patches[i].HookName);
                for (int b = 0; b < prompts; b++) patches[i].AddResidualDelta(entry, i * prompts + b, b, start, source, targetAct, projection);
            }
            if (viaMid) ThroughMlp(block, patches, entry, resid!, start);
        }
        else foreach (var group in Enumerable.Range(0, patches.Count).GroupBy(i => patches[i].HookName))
        {
            var source = runs.SourceCache[group.Key];
            var members = group.ToArray();
            hooks.Add(new Hook(group.Key, (act, _) =>
            {
                foreach (int i in members)
                    for (int b = 0; b < prompts; b++) patches[i].Apply(act, i * prompts + b, b, start, source);
                return null;
            }));
        }

        var cells = patches.Select(p => p.Cell).ToList();
        var kv = start > 0 && layer < model.Config.NLayers ? Prefix(rows, layer, start) : null;
        // (7) Single neurons: the first block's Q/K/V without its GEMM.
        float[]? qkv = null;
        if (viaResidual && layer < model.Config.NLayers && patches.All(p => p.IsSingleNeuron))
        {
            if (_neuronQkv?.Block != layer) _neuronQkv = new NeuronQkv(model, runs, layer);
            string hook = patches[0].HookName;
            qkv = _neuronQkv.Compute(resid!, patches, prompts, start, runs.SourceCache[hook], runs.TargetCache[hook]);
        }
        // (4, 6) Only the final rows are read: the model's query rows and the metric's unembedding columns.
        var logits = model.Run(tokens, new ForwardOptions
        {
            StartAtLayer = layer, ResidualInput = resid, KvCache = kv, Hooks = hooks, StartQkv = qkv,
            QueryRows = finals, UnembedColumns = runs.Columns,
        });
        Score(logits, cells, results);
    }

    /// <summary>The target run's <paramref name="hook"/> [prompt, pos, d_model] from position <paramref name="start"/> on,
    /// repeated per patch: [rows, pos - start, d_model] (row r = prompt r % prompts).</summary>
    private Tensor TargetRows(string hook, int rows, int start)
    {
        var cached = runs.TargetCache[hook];
        int prompts = runs.Target.Batch, pos = runs.Target.Pos, newPos = pos - start, d = model.Config.DModel;
        var copy = Tensor.Uninitialized(rows, newPos, d);
        for (int r = 0; r < rows; r++)
            cached.Data.AsSpan(((r % prompts) * pos + start) * d, newPos * d).CopyTo(copy.Data.AsSpan(r * newPos * d));
        return copy;
    }

    /// <summary>resid_post = resid_mid + MLP(ln2(resid_mid)) of <paramref name="block"/> from the patched resid_mid
    /// <paramref name="mid"/> [rows, newPos, d_model], written into <paramref name="resid"/> (the target's resid_post,
    /// same shape) only at the positions the patches change: elsewhere resid_mid, and so resid_post, is the target's.</summary>
    private void ThroughMlp(TransformerBlock block, List<SlicePatch> patches, Tensor mid, Tensor resid, int start)
    {
        int prompts = runs.Target.Batch, newPos = mid.Dim(1), d = mid.Dim(2);
        var changed = new List<int>(); // flat row·newPos + (position - start)
        for (int i = 0; i < patches.Count; i++)
            for (int b = 0; b < prompts; b++)
            {
                var (from, to) = patches[i].ChangedPositions(b, start, newPos);
                for (int p = from; p < to; p++) changed.Add((i * prompts + b) * newPos + p - start);
            }
        if (changed.Count == 0) return;
        var x = Tensor.Uninitialized(changed.Count, 1, d);
        for (int j = 0; j < changed.Count; j++) mid.Data.AsSpan(changed[j] * d, d).CopyTo(x.Data.AsSpan(j * d));
        var mlpOut = block.MlpBranch(x);
        for (int j = 0; j < changed.Count; j++)
            System.Numerics.Tensors.TensorPrimitives.Add(x.Data.AsSpan(j * d, d), mlpOut.Data.AsSpan(j * d, d), resid.Data.AsSpan(changed[j] * d, d));
    }

    /// <summary>User patches see whole [prompt, ...] activations, so they run one at a time, from their layer.</summary>
    private void RunCustom(CustomVariant custom, float[][] results)
    {
        var target = runs.Target;
        var source = runs.SourceCache[custom.HookName];
        var logits = model.Run(target, new ForwardOptions
        {
            StartAtLayer = custom.Layer,
            ResidualInput = custom.Layer > 0 ? runs.TargetCache[HookNames.ResidPre(custom.Layer)].Clone() : null,
            Hooks = [new Hook(custom.HookName, (act, _) => custom.Apply(act, source))],
            Logits = LogitsMode.Final, UnembedColumns = runs.Columns,
        });
        Score(logits, [custom.Cell], results);
    }

    /// <summary>Metric per patch from final logits [patches·prompts, columns].</summary>
    private void Score(Tensor logits, IReadOnlyList<int> cells, float[][] results)
    {
        int prompts = runs.Target.Batch, cols = logits.Dim(1);
        for (int i = 0; i < cells.Count; i++)
        {
            var slice = new Tensor(logits.Data.AsSpan(i * prompts * cols, prompts * cols).ToArray(), prompts, cols);
            results[cells[i]] = runs.Inputs.Metric.PerPrompt(slice);
        }
    }

    /// <summary>A KV cache for <paramref name="rows"/> rows holding the target run's keys/values of positions
    /// [0, start) in blocks ≥ <paramref name="layer"/> (row r = prompt r % prompts); reused between passes.</summary>
    private KvCache Prefix(int rows, int layer, int start)
    {
        var target = runs.TargetKv;
        if (!_prefixCaches.TryGetValue(rows, out var kv))
        {
            if (_prefixCaches.Count >= 2) _prefixCaches.Clear();
            _prefixCaches[rows] = kv = new KvCache(model.Config, rows, target.Capacity);
        }
        int width = target.Width, cap = target.Capacity, prompts = target.Batch;
        for (int l = layer; l < model.Config.NLayers; l++)
        {
            float[] sk = target.KeysArray(l), sv = target.ValuesArray(l), dk = kv.KeysArray(l), dv = kv.ValuesArray(l);
            for (int r = 0; r < rows; r++)
            {
                int from = (r % prompts) * cap * width, to = r * cap * width;
                sk.AsSpan(from, start * width).CopyTo(dk.AsSpan(to));
                sv.AsSpan(from, start * width).CopyTo(dv.AsSpan(to));
            }
        }
        kv.Length = start;
        return kv;
    }
}
