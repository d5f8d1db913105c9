using System.CommandLine;
using SharpLens.Cli;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>The help of every command speaks in one voice, and command-line mistakes are one line, exit 2.</summary>
public class HelpTests
{
    private static IEnumerable<Command> AllCommands(Command command) => command.Subcommands.Where(c => !c.Hidden).SelectMany(AllCommands).Prepend(command);

    private static IEnumerable<(string Where, Symbol Symbol, string? Description)> Described()
    {
        foreach (var command in AllCommands(App.Build()))
        {
            string path = command.Name;
            yield return (path, command, command.Description);
            foreach (var option in command.Options.Where(o => !o.Hidden && o.Name is not ("--help" or "--version")))
                yield return ($"{path} {option.Name}", option, option.Description);
            foreach (var argument in command.Arguments.Where(a => !a.Hidden))
                yield return ($"{path} <{argument.Name}>", argument, argument.Description);
        }
    }

    [Fact]
    public void EveryCommandOptionAndArgumentIsDescribedInOneVoice()
    {
        var problems = new List<string>();
        foreach (var (where, symbol, description) in Described())
        {
            if (string.IsNullOrWhiteSpace(description)) { problems.Add($"{where}: no description"); continue; }
            if (!char.IsUpper(description[0])) problems.Add($"{where}: starts in lower case: {description}");
            if (description.EndsWith('.')) problems.Add($"{where}: ends with a full stop: {description}");
            if (description.Contains('\n')) problems.Add($"{where}: spans lines");
            // The help already prints "[default: x]" for options that have a default value; saying it twice disagrees sooner or later.
            if (symbol is Option { HasDefaultValue: true } && description.Contains("default", StringComparison.OrdinalIgnoreCase))
                problems.Add($"{where}: mentions a default next to the generated [default: ...]: {description}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void EveryOutputPathOfEveryCommandIsCheckedBeforeItRuns()
    {
        var outputs = AllCommands(App.Build())
            .SelectMany(c => c.Options.Where(o => o.Name is "--out" or "--json" or "--plot" && o.ValueType == typeof(string)).Select(o => (c.Name, o)))
            .ToList();
        Assert.True(outputs.Count >= 10, $"found only {outputs.Count} output options");
        Assert.All(outputs, x => Assert.True(OutputPaths.IsDeclared(x.o), $"{x.Name} {x.o.Name} is not declared as an output path"));
    }

    [Fact]
    public void UsageLineNamesTheToolNotTheAssembly()
    {
        foreach (var args in new[] { new[] { "--help" }, new[] { "patch", "--help" }, new[] { "study", "run", "--help" } })
        {
            var r = CliRunner.Run(args);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("Usage:\n  sharplens", r.Stdout.ReplaceLineEndings("\n"));
            Assert.DoesNotContain("SharpLens.Cli", r.Stdout);
        }
    }

    [Fact]
    public void PatchDirectionStatesItsDefaultOnce()
    {
        var r = CliRunner.Run("patch", "--help");
        string line = r.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("--direction", StringComparison.Ordinal));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(line, "default"));
    }

    [Theory]
    [InlineData("did you mean --model?", "predict", "--modle", "x", "--tokens", "1")]
    [InlineData("--method", "patch", "-m", "x", "-i", "in.json", "--json", "o.json", "--method", "fast")]
    [InlineData("'--model' is required", "predict", "--tokens", "1,2")]
    [InlineData("'frobnicate' is not an option or command", "frobnicate")]
    [InlineData("as a whole number", "predict", "-m", "x", "--tokens", "1", "--top-k", "many")]
    public void ParseErrorIsOneLineOnStderrWithExit2AndAPointerToHelp(string needle, params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        CliRunner.AssertOneLineError(r, needle);
        Assert.Contains("--help' for the options", r.Stderr);
    }
}
