using System.Text.RegularExpressions;

namespace SharpLens.Tests.Readme;

/// <summary>
/// What the documentation tells a new user to type works as written: files it names exist where it says, and the
/// README's test command is the one CI runs, with progress a person can follow (one line per finished test).
/// </summary>
public class DocumentedCommandsTests
{
    private static IEnumerable<string> Documents() =>
        new[] { "README.md", Path.Combine("studies", "README.md") }.Concat(Directory.GetFiles(Path.Combine(ReadmeDocument.RepoRoot, "docs"), "*.md")
            .Select(p => Path.GetRelativePath(ReadmeDocument.RepoRoot, p)));

    [Fact]
    public void Every_reference_file_the_docs_name_exists_where_they_say()
    {
        var named = Documents().SelectMany(doc => Regex.Matches(File.ReadAllText(Path.Combine(ReadmeDocument.RepoRoot, doc)), @"--reference ([^\s`\]\)]+)")
            .Select(m => (Doc: doc, Path: m.Groups[1].Value))).Where(x => x.Path != x.Path.ToUpperInvariant()).ToList();   // REF is a placeholder
        Assert.NotEmpty(named);
        foreach (var (doc, path) in named)
            Assert.True(File.Exists(Path.Combine(ReadmeDocument.RepoRoot, path)), $"{doc} names --reference {path}, which does not exist (paths are from the repository root)");
    }

    [Fact]
    public void The_readme_test_command_is_what_ci_runs_and_reports_each_finished_test()
    {
        static string TestCommand(string text) => Regex.Matches(text, @"^dotnet test .*$", RegexOptions.Multiline).Single().Value.Trim();
        string readme = TestCommand(File.ReadAllText(Path.Combine(ReadmeDocument.RepoRoot, "README.md")));
        string ci = TestCommand(File.ReadAllText(Path.Combine(ReadmeDocument.RepoRoot, ".ci", "run")));
        Assert.Equal(readme, ci);
        Assert.Contains("--logger \"console;verbosity=normal\"", readme);   // "Passed NAME [time]" as each test ends, not minutes of silence
    }
}
