namespace SharpLens.Tests.Support;

/// <summary>
/// How long a test waits for something to happen before it calls it a hang. These bound hangs, not speed (no test
/// here is timed: benchmarks live in bench/), so they are generous: the suite also runs on loaded 2-core hosts, where a
/// headless Chromium may take tens of seconds to draw a plot and a child `dotnet run` several minutes to build.
/// </summary>
internal static class TestTimeouts
{
    /// <summary>Any wait for the browser: an element, a plot, a tooltip, a URL, a page function.</summary>
    public const int BrowserMs = 120_000;
    /// <summary>One `sharplens` command run as a child process.</summary>
    public static readonly TimeSpan CliCommand = TimeSpan.FromMinutes(10);
    /// <summary>One example (`dotnet run examples/NAME.cs`), its build included.</summary>
    public static readonly TimeSpan Example = TimeSpan.FromMinutes(20);
    /// <summary>Every command of the README, run in one bash session.</summary>
    public static readonly TimeSpan ReadmeCommands = TimeSpan.FromMinutes(45);
}
