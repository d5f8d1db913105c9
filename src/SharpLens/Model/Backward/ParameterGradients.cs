using SharpLens.Tensors;

namespace SharpLens.Model.Backward;

/// <summary>
/// d loss / d parameter, keyed by TransformerLens state-dict name (<c>embed.W_E</c>, <c>blocks.0.attn.W_Q</c>,
/// <c>blocks.0.ln1.w</c>, <c>unembed.b_U</c> ...) and shaped like the parameter in <see cref="TransformerWeights.Named"/>.
/// A backward pass accumulates into it (adds, so several passes sum); only the names <see cref="Wants"/> accepts are
/// computed at all, so a pass that asks for none costs nothing extra (attribution patching asks for none).
/// </summary>
public sealed class ParameterGradients
{
    private readonly Dictionary<string, Tensor> _grads = new(StringComparer.Ordinal);
    private readonly Func<string, bool> _wanted;

    /// <summary>Gradients of the parameters whose names pass <paramref name="wanted"/> (all when null).</summary>
    public ParameterGradients(Func<string, bool>? wanted = null) => _wanted = wanted ?? (_ => true);

    /// <summary>Whether the gradient of the parameter named <paramref name="name"/> is computed.</summary>
    public bool Wants(string name) => _wanted(name);

    /// <summary>The parameter names that have a gradient so far.</summary>
    public IReadOnlyCollection<string> Keys => _grads.Keys;

    /// <summary>Whether <paramref name="name"/> has a gradient.</summary>
    public bool Contains(string name) => _grads.ContainsKey(name);

    /// <summary>The gradient of the parameter named <paramref name="name"/>, shaped like the parameter.</summary>
    public Tensor this[string name] => _grads.TryGetValue(name, out var t) ? t
        : throw new InvalidInputException($"no gradient for parameter '{name}': it was not requested or no backward pass reached it");

    /// <summary>The gradient of <paramref name="name"/>, if any.</summary>
    public bool TryGet(string name, out Tensor tensor) => _grads.TryGetValue(name, out tensor!);

    /// <summary>Sets every gradient to zero (a training step starts from zero; the tensors are kept).</summary>
    public void Zero()
    {
        foreach (var t in _grads.Values) Array.Clear(t.Data);
    }

    /// <summary>The accumulator of <paramref name="name"/> [shape], zeros when new; null when it is not wanted.</summary>
    internal Tensor? For(string name, params int[] shape)
    {
        if (_grads.TryGetValue(name, out var t)) return t;
        if (!_wanted(name)) return null;
        return _grads[name] = Tensor.Zeros(shape);
    }
}
