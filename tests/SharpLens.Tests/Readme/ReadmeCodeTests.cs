using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Readme;

/// <summary>
/// Every C# block of README.md compiled as written, as the Program.cs of a new console project (the SDK's implicit
/// usings, references to the SharpLens assemblies), then run with <c>gpt2</c> served by the Hugging Face cache as a
/// random GPT-2-shaped checkpoint.
/// </summary>
[Collection(ReadmeCollection.Name)]
public class ReadmeCodeTests
{
    /// <summary>What <c>dotnet new console</c> (ImplicitUsings enabled) puts in scope without a using directive.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    public static TheoryData<int> CSharpBlocks()
    {
        var data = new TheoryData<int>();
        foreach (var block in ReadmeDocument.Blocks(File.ReadAllText(ReadmeDocument.ReadmePath), "csharp", "cs", "c#"))
            data.Add(block.FirstLine);
        return data;
    }

    [Fact]
    public void TheReadmeHasACSharpSample() => Assert.NotEmpty(CSharpBlocks());

    [Theory]
    [MemberData(nameof(CSharpBlocks))]
    public void CSharpBlockCompilesAsWrittenAndRuns(int firstLine)
    {
        var block = ReadmeDocument.Blocks(File.ReadAllText(ReadmeDocument.ReadmePath), "csharp", "cs", "c#").Single(b => b.FirstLine == firstLine);
        var assembly = Compile(block.Text, $"README.md:{firstLine}");

        var saved = (Cache: Environment.GetEnvironmentVariable("HF_HUB_CACHE"), Offline: Environment.GetEnvironmentVariable("HF_HUB_OFFLINE"));
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", RandomGpt2Checkpoint.HubCache);
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        var console = Console.Out;
        try
        {
            Console.SetOut(TextWriter.Null);
            var entry = assembly.EntryPoint!;
            entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
        }
        catch (TargetInvocationException e)
        {
            Assert.Fail($"README.md C# block at line {firstLine} threw: {e.InnerException}");
        }
        finally
        {
            Console.SetOut(console);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved.Cache);
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", saved.Offline);
        }
    }

    [Fact]
    public void CompileReportsTheReadmeLineOfAnError()
    {
        var error = Assert.ThrowsAny<Exception>(() => Compile("var x = new NoSuchType();", "README.md:7"));
        Assert.Contains("README.md:7", error.Message);
        Assert.Contains("NoSuchType", error.Message);
    }

    private static Assembly Compile(string source, string where)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = new[] { CSharpSyntaxTree.ParseText(source, parse, path: where), CSharpSyntaxTree.ParseText(ImplicitUsings, parse) };
        var compilation = CSharpCompilation.Create("ReadmeSample" + Guid.NewGuid().ToString("N"), trees, References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        if (!result.Success || problems.Count > 0)
            throw new InvalidOperationException($"the C# sample at {where} does not compile cleanly:\n" + string.Join("\n", problems));
        image.Position = 0;
        return AssemblyLoadContext.Default.LoadFromStream(image);
    }

    /// <summary>The framework, the SharpLens assemblies and their dependencies (this test run's assemblies, less the tests).</summary>
    private static IEnumerable<MetadataReference> References()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => !Path.GetFileName(p).StartsWith("SharpLens.Tests", StringComparison.Ordinal)).ToList();
        paths.AddRange(Directory.GetFiles(AppContext.BaseDirectory, "SharpLens*.dll").Where(p => !p.Contains("SharpLens.Tests")));
        return paths.Distinct().Select(p => MetadataReference.CreateFromFile(p));
    }
}
