using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace SharpLens.Tests.Support;

/// <summary>
/// <see cref="BuildInfo.IsOptimized"/> tells a Debug build from a Release build (the examples' test relies on it to
/// show that the documented command runs an optimized SharpLens): the same source compiled both ways.
/// </summary>
public class BuildInfoTests
{
    [Theory]
    [InlineData(OptimizationLevel.Debug, false)]
    [InlineData(OptimizationLevel.Release, true)]
    public void A_debug_build_is_told_from_a_release_build(OptimizationLevel level, bool optimized)
    {
        var compilation = CSharpCompilation.Create("BuildInfoProbe" + level, [CSharpSyntaxTree.ParseText("public static class Probe { public static int One => 1; }")],
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: level));
        using var image = new MemoryStream();
        Assert.True(compilation.Emit(image).Success);
        var assembly = Assembly.Load(image.ToArray());
        Assert.Equal(optimized, BuildInfo.IsOptimized(assembly));
    }
}
