using System.Diagnostics;
using System.Reflection;

namespace SharpLens;

/// <summary>What build of SharpLens is running: its version (recorded in the files it writes) and whether it is optimized.</summary>
public static class BuildInfo
{
    /// <summary>
    /// The version of SharpLens (the informational version of this assembly: <c>Version</c> in Directory.Build.props,
    /// the one version of every SharpLens project and package, plus <c>+COMMIT</c> when built from git). Every file that
    /// records a SharpLens version (e.g. a neuron index's <c>sharplens_version</c>) takes it from here.
    /// </summary>
    public static string Version { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// False when this assembly was compiled without optimizations (a Debug build), which runs the tensor kernels
    /// several times slower: <c>dotnet run</c> and file-based apps build Debug unless told otherwise.
    /// </summary>
    public static bool Optimized { get; } = IsOptimized(typeof(BuildInfo).Assembly);

    /// <summary>
    /// What <see cref="Loading.ModelLoader.Load"/> writes (once per process, to <see cref="Loading.LoadOptions.Warn"/> or
    /// else stderr) when SharpLens is not <see cref="Optimized"/>.
    /// </summary>
    public const string UnoptimizedWarning = "SharpLens was compiled without optimizations (a Debug build) and runs several times slower: " +
        "build it in Release (dotnet run -c Release; in a file-based app, #:property Configuration=Release and a ProjectReference SetConfiguration, as examples/ does)";

    private static int _warned;

    /// <summary>Writes <see cref="UnoptimizedWarning"/> through <paramref name="warn"/> (stderr when null), once per process, when not <see cref="Optimized"/>.</summary>
    internal static void WarnIfUnoptimized(Action<string>? warn)
    {
        if (Optimized || Interlocked.Exchange(ref _warned, 1) != 0) return;
        if (warn is not null) warn(UnoptimizedWarning);
        else Console.Error.WriteLine($"warning: {UnoptimizedWarning}");
    }

    /// <summary>Whether <paramref name="assembly"/> was compiled with optimizations (its JIT optimizer is not disabled).</summary>
    public static bool IsOptimized(Assembly assembly) =>
        assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };
}
