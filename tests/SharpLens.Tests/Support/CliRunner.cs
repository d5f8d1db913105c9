using System.Diagnostics;

namespace SharpLens.Tests.Support;

/// <summary>Runs the real <c>sharplens</c> program in a child process, as a user would, and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => Run(new Dictionary<string, string?>(), args);

    /// <summary>Runs with <paramref name="environment"/> over the defaults (offline, an empty Hugging Face cache); a null value unsets a variable.</summary>
    public static Result Run(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SharpLens.Cli.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["HF_HUB_OFFLINE"] = "1";
        info.Environment["HF_HUB_CACHE"] = Path.Combine(Path.GetTempPath(), "sharplens-tests-empty-hf-cache");
        foreach (var (name, value) in environment)
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TestTimeouts.CliCommand)) { process.Kill(true); throw new TimeoutException("sharplens did not finish"); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharplens-cli-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A user error: non-zero exit, one line on stderr naming <paramref name="needle"/>, no stack trace.</summary>
    public static void AssertOneLineError(Result r, string needle)
    {
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{r.Stderr}");
        Assert.Contains(needle, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}
