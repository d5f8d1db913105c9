using SharpLens.Tensors;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// A user patch, as TransformerLens' patch_setter of generic_activation_patch: edit <paramref name="target"/>
/// (the activation of the run being patched, [prompt, ...] in the hook's shape) in place from
/// <paramref name="source"/> (the other run's activation, same shape) and return null, or return a replacement
/// of the same shape. <paramref name="row"/>, <paramref name="col"/> is the grid cell being computed.
/// </summary>
public delegate Tensor? PatchSetter(Tensor target, Tensor source, int row, int col);
