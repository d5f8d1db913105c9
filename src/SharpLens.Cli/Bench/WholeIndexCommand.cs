using System.Diagnostics;
using System.Reflection;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Neurons;
using SharpLens.Neurons.Indexing;

namespace SharpLens.Cli.Bench;

/// <summary>The whole <c>sharplens neurons index</c> command as a user runs it: its wall time and what it indexed.</summary>
/// <param name="Seconds">Wall time of the child process, start to exit (runtime start, model load, corpus count, the
/// pass, every checkpoint at the default interval, the final save).</param>
/// <param name="Windows">Windows the index holds.</param>
/// <param name="Tokens">Tokens the index holds (BOS excluded).</param>
/// <param name="Gflops">The pass's floating-point work (<see cref="IndexingBenchmark.FlopsPerWindow"/>) over the whole wall time.</param>
internal sealed record WholeIndexTiming(double Seconds, long Windows, long Tokens, double Gflops);

/// <summary>
/// Runs <c>neurons index</c> in a child process of this same executable, with default settings, over a generated corpus
/// of <c>corpusBytes</c>, so <c>bench --suites neurons</c> reports the command's throughput beside the inner pass's
/// (whatever the pass does not time - load, checkpoints, the final save - shows up as the difference).
/// </summary>
internal static class WholeIndexCommand
{
    /// <summary>How long the child may run before it is killed and the suite fails (a hang must not hang bench).</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromHours(2);

    /// <param name="model">A model id or folder the child loads; null writes <paramref name="lm"/>'s shape as a random
    /// GPT-2 checkpoint (the bench's default model) into the temporary folder first.</param>
    /// <param name="lm">The model the bench suite runs (its config sizes the random checkpoint and counts the flops).</param>
    /// <param name="corpusBytes">Size of the generated corpus.</param>
    public static WholeIndexTiming Run(string? model, HookedTransformer lm, long corpusBytes)
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharplens-bench-index-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            if (model is null)
            {
                model = Path.Combine(dir, "model");
                Gpt2CheckpointWriter.Write(model, lm.Config, RandomWeights.Create(lm.Config));
            }
            string corpus = Path.Combine(dir, "corpus.txt"), db = Path.Combine(dir, "index.db");
            IndexingBenchmark.WriteCorpus(corpus, (int)(corpusBytes / 4.2));
            var start = ChildStart(["neurons", "index", "--model", model, "--corpus", corpus, "--out", db]);
            var watch = Stopwatch.StartNew();
            using (var child = Process.Start(start) ?? throw new SharpLensException("could not start the neurons index child process"))
            {
                // Drained as it comes, so a chatty child never blocks on a full pipe.
                var stdout = child.StandardOutput.ReadToEndAsync();
                var stderr = child.StandardError.ReadToEndAsync();
                if (!child.WaitForExit(Limit))
                {
                    child.Kill(entireProcessTree: true);
                    throw new SharpLensException($"bench: neurons index ran over {Limit.TotalHours} h and was stopped");
                }
                if (child.ExitCode != 0)
                    throw new SharpLensException($"bench: neurons index exited with {child.ExitCode}: {stderr.Result.Trim().Split('\n')[^1]}");
                _ = stdout.Result;
            }
            double seconds = watch.Elapsed.TotalSeconds;
            using var index = NeuronIndex.Open(db);
            var p = index.Provenance;
            double flops = IndexingBenchmark.FlopsPerWindow(lm.Config, p.Context, p.Layers[^1]) * p.WindowsDone;
            return new WholeIndexTiming(seconds, p.WindowsDone, p.TokensDone, flops / seconds / 1e9);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>This executable with <paramref name="arguments"/>: the apphost directly, or <c>dotnet SharpLens.Cli.dll</c>.</summary>
    private static ProcessStartInfo ChildStart(IEnumerable<string> arguments)
    {
        string host = Environment.ProcessPath ?? throw new SharpLensException("bench: cannot tell which executable to run for neurons index");
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        return start;
    }
}
