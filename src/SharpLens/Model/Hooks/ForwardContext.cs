using SharpLens.Tensors;

namespace SharpLens.Model.Hooks;

/// <summary>
/// The hooks and cache of one forward call. Components ask <see cref="IsObserved"/> before computing
/// optional activations (hook_result, per-head outputs) and pass every activation through <see cref="Apply"/>.
/// Lives for one call only, so hooks never outlive the call that installed them, even when it throws.
/// It also owns the call's activation memory: components allocate through <see cref="Allocate"/> and give an
/// activation back with <see cref="Release"/> once it is dead, which happens only when this call allocated it and no
/// cache or (keeping) hook can hold it.
/// </summary>
public sealed class ForwardContext
{
    private readonly Dictionary<string, List<HookFunction>> _hooks = new(StringComparer.Ordinal);
    private readonly Func<string, bool>? _cacheFilter;
    private readonly TensorPool? _pool;
    private readonly HashSet<float[]>? _lent; // arrays this call allocated and has not released
    private readonly bool _hooksKeepActivations;

    /// <summary>A call that runs <paramref name="hooks"/> (several on one name run in order) and records into
    /// <paramref name="cache"/> the activations whose names pass <paramref name="cacheFilter"/> (all when null).</summary>
    /// <param name="hooks">The call's hooks, or null.</param>
    /// <param name="cache">Where observed activations are recorded, or null.</param>
    /// <param name="cacheFilter">Which names to record (all when null).</param>
    /// <param name="pool">Where dead activations go and new ones come from; null: every activation is a new array and
    /// none is reused.</param>
    /// <param name="hooksKeepActivations">Whether a hook may keep the tensor it is given after its call (true, the safe
    /// default); false lets the call reuse the memory of hooked activations too (<see cref="ForwardOptions.HooksKeepActivations"/>).</param>
    public ForwardContext(IEnumerable<Hook>? hooks = null, ActivationCache? cache = null, Func<string, bool>? cacheFilter = null,
        TensorPool? pool = null, bool hooksKeepActivations = true)
    {
        _pool = pool;
        _lent = pool is null ? null : new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        _hooksKeepActivations = hooksKeepActivations;
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

    /// <summary>Whether someone may still hold the activation named <paramref name="name"/> after its hook point: it is
    /// cached, or hooked by hooks that may keep what they are given.</summary>
    public bool MayKeep(string name) => IsCached(name) || (_hooksKeepActivations && HasHook(name));

    /// <summary>A new activation of <paramref name="shape"/>, contents undefined (from the pool when the call has one).</summary>
    internal Tensor Allocate(params int[] shape)
    {
        if (_pool is null) return Tensor.Uninitialized(shape);
        var data = _pool.Take(Tensor.ElementCount(shape));
        _lent!.Add(data);
        return new Tensor(data, (int[])shape.Clone());
    }

    /// <summary>Whether this call allocated <paramref name="t"/>'s memory and has not released it: only then may a
    /// component overwrite it in place or release it (a hook's replacement or a caller's input is never ours).</summary>
    internal bool Owns(Tensor t) => _lent is not null && _lent.Contains(t.Data);

    /// <summary>Whether <paramref name="t"/> is this call's and nobody can hold it under <paramref name="name"/>: it may
    /// be overwritten in place.</summary>
    internal bool IsScratch(Tensor t, string name) => Owns(t) && !MayKeep(name);

    /// <summary>Gives <paramref name="t"/>'s memory back for later activations of this call (or of later calls sharing
    /// the pool), when it is this call's and nobody can hold it under any of <paramref name="names"/> (every hook point
    /// that has shown it). The caller must not use <paramref name="t"/> afterwards.</summary>
    internal void Release(Tensor t, params ReadOnlySpan<string> names)
    {
        if (!Owns(t)) return;
        foreach (var name in names)
            if (MayKeep(name)) return;
        _lent!.Remove(t.Data);
        _pool!.Give(t.Data);
    }

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
