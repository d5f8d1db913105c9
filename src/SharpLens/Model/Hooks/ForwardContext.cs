using SharpLens.Tensors;

namespace SharpLens.Model.Hooks;

/// <summary>
/// The hooks and cache of one forward call. Components ask <see cref="IsObserved"/> before computing
/// optional activations (hook_result, per-head outputs) and pass every activation through <see cref="Apply"/>.
/// Lives for one call only, so hooks never outlive the call that installed them, even when it throws.
/// </summary>
public sealed class ForwardContext
{
    private readonly Dictionary<string, List<HookFunction>> _hooks = new(StringComparer.Ordinal);
    private readonly Func<string, bool>? _cacheFilter;

    public ForwardContext(IEnumerable<Hook>? hooks = null, ActivationCache? cache = null, Func<string, bool>? cacheFilter = null)
    {
        Cache = cache;
        _cacheFilter = cache is null ? null : cacheFilter ?? (_ => true);
        if (hooks is null) return;
        foreach (var hook in hooks)
        {
            if (!_hooks.TryGetValue(hook.Name, out var list)) _hooks[hook.Name] = list = [];
            list.Add(hook.Function);
        }
    }

    public static readonly ForwardContext None = new();

    public ActivationCache? Cache { get; }
    public IEnumerable<string> HookedNames => _hooks.Keys;

    public bool HasHook(string name) => _hooks.ContainsKey(name);
    public bool IsCached(string name) => _cacheFilter is not null && _cacheFilter(name);
    public bool IsObserved(string name) => HasHook(name) || IsCached(name);

    /// <summary>Runs the hooks on <paramref name="activation"/>, caches the result when asked, returns what flows on.</summary>
    public Tensor Apply(string name, int? layer, Tensor activation)
    {
        if (_hooks.TryGetValue(name, out var functions))
        {
            var point = new HookPoint(name, layer);
            foreach (var fn in functions)
            {
                var replaced = fn(activation, point);
                if (replaced is not null)
                {
                    if (!replaced.SameShape(activation))
                        throw new ShapeMismatchException(
                            $"hook on '{name}' returned shape {replaced.ShapeString}, expected {activation.ShapeString}");
                    activation = replaced;
                }
            }
        }
        if (IsCached(name)) Cache!.Set(name, activation);
        return activation;
    }
}
