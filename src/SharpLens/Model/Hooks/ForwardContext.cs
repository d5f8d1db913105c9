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

    /// <summary>A call that runs <paramref name="hooks"/> (several on one name run in order) and records into
    /// <paramref name="cache"/> the activations whose names pass <paramref name="cacheFilter"/> (all when null).</summary>
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

    /// <summary>No hooks and no cache: components compute only what flows on.</summary>
    public static readonly ForwardContext None = new();

    /// <summary>Where observed activations are recorded, or null.</summary>
    public ActivationCache? Cache { get; }
    /// <summary>The hook names that have at least one hook in this call.</summary>
    public IEnumerable<string> HookedNames => _hooks.Keys;

    /// <summary>Whether a hook is installed on <paramref name="name"/>.</summary>
    public bool HasHook(string name) => _hooks.ContainsKey(name);
    /// <summary>Whether the activation named <paramref name="name"/> is to be recorded in <see cref="Cache"/>.</summary>
    public bool IsCached(string name) => _cacheFilter is not null && _cacheFilter(name);
    /// <summary>Whether anyone reads <paramref name="name"/> (hooked or cached): optional activations are computed only then.</summary>
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
