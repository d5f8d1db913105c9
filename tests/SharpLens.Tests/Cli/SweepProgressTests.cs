using SharpLens.Analysis.Patching;
using SharpLens.Cli;
using Spectre.Console;

namespace SharpLens.Tests.Cli;

/// <summary>Patching over several sweeps (head_out, then one neuron layer after another) shows one monotone total.</summary>
public class SweepProgressTests
{
    [Fact]
    public void ProgressOverManySweepsIsOneMonotoneTotalLabelledWithTheCurrentLayer()
    {
        var task = new ProgressTask(0, "patching", 1);
        var progress = new SweepProgress(task);
        var plan = new List<(string, int)> { ("head_out", 144) };
        plan.AddRange(Enumerable.Range(0, 12).Select(l => ($"neurons_L{l}", 3072)));
        progress.Plan(plan);
        double total = task.MaxValue, last = 0;
        Assert.Equal(144 + 12 * 3072, total);
        foreach (var (name, runs) in plan)
        {
            progress.Next();
            Assert.Contains(name, task.Description);
            for (int done = 0; done <= runs; done += 1000)
            {
                // The patcher counts each sweep from 0 to its own total.
                progress.Report(new PatchingProgress(Math.Min(done, runs), runs, name.StartsWith("neurons") ? "neurons" : name));
                Assert.True(task.Value >= last, $"progress went back from {last} to {task.Value} in {name}");
                Assert.Equal(total, task.MaxValue);
                last = task.Value;
            }
        }
        Assert.Contains("sweep 13 of 13", task.Description);
        progress.Complete();
        Assert.Equal(total, task.Value);
    }
}
