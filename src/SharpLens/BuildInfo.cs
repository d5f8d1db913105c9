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

    /// <summary>Whether <paramref name="assembly"/> was compiled with optimizations (its JIT optimizer is not disabled).</summary>
    public static bool IsOptimized(Assembly assembly) =>
        assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };
}
