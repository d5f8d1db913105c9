using SharpLens.Families.Gpt2;
using SharpLens.Loading;
using SharpLens.Tests.Support;
using SharpLens.Training;
using SharpLens.Training.Tasks;

namespace SharpLens.Tests.Training;

/// <summary>Runs in folders: exact resume, the saved model in GPT-2's layout, NaN handling, damaged checkpoints.</summary>
public class TrainingRunTests
{
    private static readonly TrainingOptions Options = new() { Steps = 6, BatchSize = 3, EvalEvery = 2, EvalBatches = 1, LogEvery = 1, CheckpointEvery = 2, GradientAccumulation = 2 };

    private static TrainingRun Start(string folder, TrainingOptions? options = null, bool attnOnly = false) =>
        TrainingRun.Start(folder, TrainableModel.Initialize(TrainerTests.Spec(attnOnly), 11), TrainingTasks.Settings("induction"), options ?? Options, 11);

    [Fact]
    public void AnInterruptedAndResumedRunGivesTheSameLossCurveAndWeightsBitForBit()
    {
        string dir = CliRunner.TempDir();
        var whole = Start(Path.Combine(dir, "whole"));
        whole.Run();
        var interrupted = Start(Path.Combine(dir, "interrupted"));
        using (var cancel = new CancellationTokenSource())
            interrupted.Run(r => { if (r.Step == 3) cancel.Cancel(); }, cancel.Token);
        Assert.Equal(3, interrupted.Trainer.Step);
        Assert.False(File.Exists(Path.Combine(dir, "interrupted", "model.safetensors")));
        var resumed = TrainingRun.Resume(Path.Combine(dir, "interrupted"));
        Assert.Equal(3, resumed.Trainer.Step);
        resumed.Run();
        var a = TrainingRun.ReadLog(Path.Combine(dir, "whole"));
        var b = TrainingRun.ReadLog(Path.Combine(dir, "interrupted"));
        Assert.Equal(6, a.Count);
        Assert.Equal(a.Select(r => (r.Step, r.Loss, r.EvalLoss, r.LearningRate, r.GradNorm)), b.Select(r => (r.Step, r.Loss, r.EvalLoss, r.LearningRate, r.GradNorm)));
        foreach (var ((name, x), (_, y)) in whole.Trainer.Model.Weights.Named().Zip(resumed.Trainer.Model.Weights.Named()))
            Assert.True(x.Data.AsSpan().SequenceEqual(y.Data), name);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "whole", "model.safetensors")), File.ReadAllBytes(Path.Combine(dir, "interrupted", "model.safetensors")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheSavedModelLoadsInGpt2LayoutWithTheSameLogits(bool attnOnly)
    {
        string dir = Path.Combine(CliRunner.TempDir(), "run");
        var run = Start(dir, Options with { Steps = 2, EvalEvery = 0 }, attnOnly);
        run.Run();
        var trained = run.Trainer.Model.Build();
        var loaded = ModelLoader.Load(dir, new LoadOptions { Processing = SharpLens.Model.WeightProcessingOptions.None, ResolveHubId = null });
        Assert.Equal(trained.Config.BosTokenId, loaded.Config.BosTokenId);
        var batch = run.Trainer.Task.EvalBatch(1, 0, 2).Tokens;
        TensorAssert.Close(trained.Forward(batch), loaded.Forward(batch), "logits", atol: 1e-5f);
        var config = Gpt2Config.Load(dir);
        Assert.Equal(run.Trainer.Model.Spec.Model.BosTokenId, config.BosTokenId);
        using var file = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        Assert.False(file.Contains("lm_head.weight")); // tied to wte.weight
        // The same weights fine-tune from the folder.
        var again = TrainableModel.Load(dir);
        Assert.Equal(attnOnly, again.Spec.AttnOnly);
        Assert.Equal(run.Trainer.Model.Parameters.Select(p => p.Name), again.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void ANewRunRefusesAFolderThatHoldsFiles()
    {
        string dir = CliRunner.TempDir();
        File.WriteAllText(Path.Combine(dir, "x"), "");
        var e = Assert.Throws<InvalidInputException>(() => Start(dir));
        Assert.Contains("already exists: pass --resume", e.Message);
    }

    [Fact]
    public void ADivergingRunStopsWithItsStepKeepsTheLastGoodCheckpointAndSavesNoModel()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "run");
        // A learning rate of 1e30 sends the weights to infinity within a few steps.
        var run = Start(dir, Options with { Steps = 20, LearningRate = 1e30, MinLearningRate = 1e30, WarmupSteps = 0, MaxGradNorm = 0, CheckpointEvery = 1, EvalEvery = 0 });
        var e = Assert.Throws<TrainingDivergedException>(() => run.Run());
        Assert.Contains($"training diverged at step {e.Step}", e.Message);
        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")));
        var state = TrainingCheckpoint.Load(Path.Combine(dir, "checkpoint"));
        Assert.Equal(e.Step - 1, state.Optimizer.Step);
    }

    [Fact]
    public void DamagedCheckpointsAreOneLineErrors()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "run");
        Start(dir, Options with { Steps = 2, EvalEvery = 0 }).Run();
        string checkpoint = Path.Combine(dir, "checkpoint");
        string backup = checkpoint + ".bak";
        CopyFolder(checkpoint, backup);
        void Damage(string file, Action<string> damage, string expected)
        {
            if (Directory.Exists(checkpoint)) Directory.Delete(checkpoint, true);
            CopyFolder(backup, checkpoint);
            damage(Path.Combine(checkpoint, file));
            var e = Assert.Throws<InvalidCheckpointException>(() => TrainingRun.Resume(dir));
            Assert.Contains(expected, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Damage("model.safetensors", p => { var b = File.ReadAllBytes(p); b[^3] ^= 0x40; File.WriteAllBytes(p, b); }, "does not match its SHA-256");
        Damage("optimizer.safetensors", p => File.WriteAllBytes(p, File.ReadAllBytes(p)[..100]), "does not match its SHA-256");
        Damage("optimizer.safetensors", File.Delete, "is missing");
        Damage("trainer.json", p => File.WriteAllText(p, "{\"format\": "), "is not valid JSON");
        Damage("trainer.json", p => File.WriteAllText(p, File.ReadAllText(p).Replace("\"step\": 2", "\"step\": \"two\"")), "the checkpoint is damaged");
        Damage("trainer.json", p => File.WriteAllText(p, File.ReadAllText(p).Replace("\"d_model\": 16", "\"d_model\": 17")), "d_model 17");
        Damage("trainer.json", File.Delete, "trainer.json is missing");
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
