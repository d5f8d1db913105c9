using SharpLens.Tensors;

namespace SharpLens.Model.Hooks;

/// <summary>
/// Reads or edits an activation as the forward pass reaches its hook point. Edit
/// <paramref name="activation"/> in place and return null, or return a replacement of the same shape.
/// </summary>
public delegate Tensor? HookFunction(Tensor activation, HookPoint point);

/// <summary>Where a hook fired: the hook name and its layer (null outside blocks).</summary>
public readonly record struct HookPoint(string Name, int? Layer);

/// <summary>A hook function attached to one hook name for one call.</summary>
public readonly record struct Hook(string Name, HookFunction Function);
