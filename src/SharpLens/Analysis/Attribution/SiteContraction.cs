using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// Attribution patching's estimate of every site of a sweep: batch · Σ over the site's slice of (source - target)·gradient.
/// Sweeps hold up to ~300,000 single-neuron sites (neurons by position of GPT-2 small), so the per-site cost is kept to
/// a few loads: each hook's tensors are looked up once, and a neuron's terms (source - target)·gradient, which are
/// single float products, are read from one element-wise product per hook computed once. Other sites go through
/// <see cref="SlicePatch.Contract"/>; both give the numbers <see cref="SlicePatch.Contract"/> gives.
/// </summary>
internal sealed class SiteContraction(ModelConfig config, TokenBatch target, ActivationCache source, ActivationCache targetCache,
    GradientCache grads)
{
    private readonly Dictionary<int, int[]> _resolved = [];
    private readonly Dictionary<(string Activation, int Layer), Operands> _operands = [];

    /// <summary>The source, target and gradient tensors of one hook [prompt, pos, ...], and for mlp.hook_post their
    /// term-wise product (source - target)·gradient [prompt, pos, d_mlp].</summary>
    private sealed record Operands(string Hook, Tensor Source, Tensor Target, Tensor Gradient)
    {
        public float[]? Terms { get; set; }
    }

    /// <summary>[prompt, rows, cols] estimated metric change of each site of <paramref name="sweep"/> (per prompt:
    /// the gradient of the MEAN metric times the batch is each prompt's own gradient, prompts being independent).</summary>
    public Tensor Run(PatchSweep sweep)
    {
        int prompts = target.Batch, cells = sweep.Sites.Count;
        var perPrompt = new float[prompts * cells];
        for (int i = 0; i < cells; i++)
        {
            var site = sweep.Sites[i];
            site.Validate(config);
            var operands = For(site);
            if (site.NeuronIndex is int neuron) Neuron(operands, neuron, site.Position, perPrompt, i, cells);
            else
            {
                var slice = SlicePatch.At(i, site, config, Resolve);
                for (int b = 0; b < prompts; b++)
                    perPrompt[b * cells + i] = (float)(prompts * slice.Contract(operands.Source, operands.Target, operands.Gradient, b));
            }
        }
        return new Tensor(perPrompt, prompts, sweep.Rows.Count, sweep.Cols.Count);
    }

    /// <summary>A neuron's estimate: its terms summed in double over every position, or read at one, as
    /// <see cref="SlicePatch.Contract"/> does.</summary>
    private void Neuron(Operands operands, int neuron, int? position, float[] perPrompt, int cell, int cells)
    {
        int prompts = target.Batch, pos = operands.Source.Dim(1), width = operands.Source.Dim(2);
        var terms = operands.Terms ??= TermsOf(operands);
        int[]? at = position is int p ? Resolve(p) : null;
        for (int b = 0; b < prompts; b++)
        {
            double sum;
            if (at is not null) sum = terms[(b * pos + at[b]) * width + neuron];
            else
            {
                sum = 0;
                for (int q = 0; q < pos; q++) sum += terms[(b * pos + q) * width + neuron];
            }
            perPrompt[b * cells + cell] = (float)(prompts * sum);
        }
    }

    /// <summary>(source - target)·gradient element by element, each product rounded to float as a scalar term is.</summary>
    private static float[] TermsOf(Operands o)
    {
        var terms = new float[o.Source.Length];
        System.Numerics.Tensors.TensorPrimitives.Subtract(o.Source.Data, o.Target.Data, terms);
        System.Numerics.Tensors.TensorPrimitives.Multiply(terms, o.Gradient.Data, terms);
        return terms;
    }

    private Operands For(PatchSite site)
    {
        if (_operands.TryGetValue((site.Activation, site.Layer), out var found)) return found;
        string hook = site.HookName;
        Tensor Act(ActivationCache c) => c.TryGet(hook, out var t) ? t
            : throw new InvalidInputException($"attribution patching needs '{hook}' in the cache");
        return _operands[(site.Activation, site.Layer)] = new Operands(hook, Act(source), Act(targetCache), grads[hook]);
    }

    private int[] Resolve(int position) =>
        _resolved.TryGetValue(position, out var absolute) ? absolute : _resolved[position] = PositionAxis.Resolve(position, target);
}
