using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Readme;

/// <summary>
/// Every C# block of README.md compiled as written, as the Program.cs of a new console project (the SDK's implicit
/// usings, references to the SharpLens assemblies), then run with <c>gpt2</c> served by the Hugging Face cache as a
/// random GPT-2-shaped checkpoint; with real GPT-2 at hand, run on it too.
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

    /// <summary>
    /// Appended to the sample that declares these variables (the main one): what it computes has the shapes it says,
    /// and its ablation changes the logits. A README edit that renames them fails here, naming this constant.
    /// </summary>
    private const string SampleChecks = """

        // ---- checks appended by ReadmeCodeTests.SampleChecks ----
        if (!z7.Shape.SequenceEqual(new[] { clean.Batch, clean.Pos, model.Config.NHeads, model.Config.DHead }))
            throw new Exception($"z7 has shape [{string.Join(", ", z7.Shape)}]");
        if (logits.Data.SequenceEqual(ablated.Data)) throw new Exception("zero-ablating head L7H11 changed no logit");
        if (resid.Rows.Count != model.Config.NLayers) throw new Exception($"resid_pre patching has {resid.Rows.Count} rows");
        if (heads.Rows.Count != model.Config.NLayers || heads.Cols.Count != model.Config.NHeads)
            throw new Exception($"the head estimate is [{heads.Rows.Count}, {heads.Cols.Count}]");
        """;

    private static string WithChecks(string block) => block.Contains("Tensor z7 =", StringComparison.Ordinal) ? block + SampleChecks : block;

    [Fact]
    public void TheReadmeHasTheCheckedCSharpSample() =>
        Assert.Contains(ReadmeDocument.Blocks(File.ReadAllText(ReadmeDocument.ReadmePath), "csharp", "cs", "c#"), b => WithChecks(b.Text) != b.Text);

    private static ReadmeDocument.CodeBlock Block(int firstLine) =>
        ReadmeDocument.Blocks(File.ReadAllText(ReadmeDocument.ReadmePath), "csharp", "cs", "c#").Single(b => b.FirstLine == firstLine);

    [Theory]
    [MemberData(nameof(CSharpBlocks))]
    public void CSharpBlockCompilesAsWrittenAndRuns(int firstLine)
    {
        var assembly = Compile(WithChecks(Block(firstLine).Text), $"README.md:{firstLine}");
        RunWith(assembly, firstLine, RandomGpt2Checkpoint.HubCache);
    }

    /// <summary>The same blocks on real GPT-2 small: <c>gpt2</c> is the folder <see cref="RealGpt2"/> found.</summary>
    [RealGpt2Fact]
    [Trait("Category", "RealWeights")]
    public void CSharpBlocksRunOnRealGpt2()
    {
        string literal = "\"" + RealGpt2.Folder!.Replace("\\", "\\\\") + "\"";
        foreach (var block in ReadmeDocument.Blocks(File.ReadAllText(ReadmeDocument.ReadmePath), "csharp", "cs", "c#"))
            RunWith(Compile(WithChecks(block.Text).Replace("ModelLoader.Load(\"gpt2\")", $"ModelLoader.Load({literal})"), $"README.md:{block.FirstLine}"),
                block.FirstLine, Environment.GetEnvironmentVariable("HF_HUB_CACHE"));
    }

    private static void RunWith(Assembly assembly, int firstLine, string? hubCache)
    {
        var saved = (Cache: Environment.GetEnvironmentVariable("HF_HUB_CACHE"), Offline: Environment.GetEnvironmentVariable("HF_HUB_OFFLINE"));
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", hubCache);
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
