using SharpLens.Model;
using SharpLens.Model.Hooks;

namespace SharpLens.Analysis.Patching;

/// <summary>The reference: for every patch, one full forward pass of the target prompts with one hook
/// (TransformerLens' run_with_hooks), full final logits, then the metric.</summary>
internal static class PlainEngine
{
    /// <param name="model">the model</param>
    /// <param name="runs">the unpatched source and target runs</param>
    /// <param name="variants">one patch per grid cell</param>
    /// <param name="results">[cell] receives the per-prompt metric [prompt] of each variant.</param>
    /// <param name="done">called with 1 after each patched run</param>
    public static void Run(HookedTransformer model, PatchingRuns runs, IReadOnlyList<PatchVariant> variants,
        float[][] results, Action<int> done)
    {
        int prompts = runs.Target.Batch;
        foreach (var variant in variants)
        {
            var source = runs.SourceCache[variant.HookName];
            HookFunction fn = variant switch
            {
                SlicePatch slice => (act, _) => { for (int b = 0; b < prompts; b++) slice.Apply(act, b, b, 0, source); return null; },
                CustomVariant custom => (act, _) => custom.Apply(act, source),
                _ => throw new InvalidOperationException(variant.GetType().Name),
            };
            var logits = model.Run(runs.Target, new ForwardOptions { Hooks = [new Hook(variant.HookName, fn)], Logits = LogitsMode.Final });
            results[variant.Cell] = runs.Inputs.Metric.PerPrompt(logits);
            done(1);
        }
    }
}
