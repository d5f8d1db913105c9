namespace SharpLens.Model.Hooks;

/// <summary>
/// A hook point as a component declares it: its full name, its block (null outside blocks) and the axes of its
/// activation in TransformerLens' names (<c>batch</c>, <c>pos</c>, <c>head_index</c>, <c>d_model</c> ...). The model's
/// ordered hook list is built from these, so each hook point is named in exactly one place: the component that fires it.
/// </summary>
/// <param name="Name">The full hook name, e.g. <c>blocks.3.attn.hook_z</c>.</param>
/// <param name="Layer">The block, or null for hook points outside the blocks.</param>
/// <param name="Axes">The activation's axes, e.g. <c>[batch, pos, head_index, d_head]</c>.</param>
public sealed record HookDeclaration(string Name, int? Layer, IReadOnlyList<string> Axes);
