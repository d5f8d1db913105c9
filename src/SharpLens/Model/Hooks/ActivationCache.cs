using SharpLens.Tensors;

namespace SharpLens.Model.Hooks;

/// <summary>
/// Activations recorded during a forward pass, keyed by TransformerLens hook name (a first-class data
/// structure, as TransformerLens' ActivationCache). Shapes are those of the hook point, batch first.
/// </summary>
public sealed class ActivationCache
{
    private readonly Dictionary<string, Tensor> _activations = new(StringComparer.Ordinal);

    /// <summary>An empty cache for a run of <paramref name="model"/>; forward passes fill it.</summary>
    public ActivationCache(HookedTransformer model) => Model = model;

    /// <summary>The model whose run produced this cache (for decomposition functions that need weights).</summary>
    public HookedTransformer Model { get; }

    /// <summary>Full hook names of the cached activations.</summary>
    public IReadOnlyCollection<string> Keys => _activations.Keys;
    /// <summary>Number of cached activations.</summary>
    public int Count => _activations.Count;
    /// <summary>Whether the activation at the hook named <paramref name="name"/> (full name) is cached.</summary>
    public bool Contains(string name) => _activations.ContainsKey(name);

    /// <summary>The cached activation; short names ("resid_pre", layer) as in TransformerLens' cache["resid_pre", 7].</summary>
    public Tensor this[string name, int? layer = null, string? layerType = null]
    {
        get
        {
            string full = HookNames.GetActName(name, layer, layerType);
            if (_activations.TryGetValue(full, out var t)) return t;
            throw new InvalidInputException(
                $"activation '{full}' is not in the cache: run RunWithCache with a names filter that includes it (cached: {Summary()})");
        }
    }

    /// <summary>The activation at the hook named <paramref name="name"/> (full name), if cached.</summary>
    public bool TryGet(string name, out Tensor tensor) => _activations.TryGetValue(name, out tensor!);

    internal void Set(string name, Tensor tensor) => _activations[name] = tensor;

    private string Summary() => _activations.Count <= 6
        ? string.Join(", ", _activations.Keys)
        : string.Join(", ", _activations.Keys.Take(6)) + $", ... ({_activations.Count} in all)";
}
