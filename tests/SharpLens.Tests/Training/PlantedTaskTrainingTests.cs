using SharpLens.Training;
using SharpLens.Training.Tasks;

namespace SharpLens.Tests.Training;

/// <summary>
/// Tiny planted tasks train in CI. contractions: a 2-layer attention-only model must give the final auxiliary's style
/// (contracted or full) far better than a model that does not read the first auxiliary can: the style is a fair coin
/// carried by that token alone, so without it the loss is at least ln 2.
/// </summary>
public class PlantedTaskTrainingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void ATinyContractionsModelBeatsTheMechanismFreeBaselineAndAnswersTheStudysPrompts()
    {
        int vocab = ContractionsTask.VocabularySize + 4;
        var spec = TrainingModelConfig.Parse($$"""{"n_layers": 2, "d_model": 64, "n_heads": 4, "d_vocab": {{vocab}}, "n_ctx": 16, "attn_only": true}""");
        var options = new TrainingOptions { Steps = 150, BatchSize = 32, LearningRate = 3e-3, EvalEvery = 0, EvalBatches = 4 };
        string dir = Path.Combine(Support.CliRunner.TempDir(), "contractions");
        var run = TrainingRun.Start(dir, TrainableModel.Initialize(spec, 2027), TrainingTasks.Settings("contractions"), options, 2027);
        double before = run.Trainer.EvalLoss();
        run.Run();
        double after = run.Trainer.EvalLoss();
        output.WriteLine($"untrained {before:F3}, trained {after:F4}, mechanism-free baseline ln 2 = {Math.Log(2):F3}");
        Assert.True(after < 0.1, $"trained loss {after:F4} does not beat the mechanism-free baseline ln 2 (untrained {before:F3})");
        // The study's own prompts, through the tokenizer the run wrote, get the style of their first clause.
        var model = SharpLens.Loading.ModelLoader.Load(dir, new SharpLens.Loading.LoadOptions { ResolveHubId = null });
        var tok = model.RequireTokenizer();
        foreach (var (prompt, answer, other) in new[]
        {
            ("We're helping our friend when they", "'re", " are"), ("We are helping our friend when they", " are", "'re"),
            ("He's helping our friend when she", "'s", " is"), ("He is helping our friend when we", " are", "'re"),
        })
        {
            var ids = tok.ToTokens(prompt);
            var logits = model.Forward(ids);
            int last = ids.Length - 1, v = model.Config.DVocab;
            float Logit(string s) => logits.Data[last * v + tok.ToSingleToken(s)];
            Assert.True(Logit(answer) > Logit(other), $"{prompt}: {answer} {Logit(answer)} vs {other} {Logit(other)}");
        }
    }

    /// <summary>
    /// The induction task trains: within 300 steps the loss on the counted positions falls far below the uniform
    /// baseline ln(d_vocab − 1). This is the CI-sized check that the task, loss mask and loop work together; it does not
    /// claim the induction circuit, which forms later (measured: a 2-layer d_model-64 attn-only model, n_ctx 32, batch
    /// 32, lr 3e-3, crossed the mechanism-free baseline of ~3.0 nats after ~1,200 steps and reached 0.78 at 2,000;
    /// docs/training.md) and which R2's discovery suite trains and checks.
    /// </summary>
    [Fact]
    public void TheInductionTaskTrainsBelowTheUniformBaselineInAFewHundredSteps()
    {
        var spec = TrainingModelConfig.Parse("""{"n_layers": 2, "d_model": 64, "n_heads": 4, "d_vocab": 64, "n_ctx": 16, "attn_only": true}""");
        var options = new TrainingOptions { Steps = 300, BatchSize = 32, LearningRate = 3e-3, Adam = new AdamWOptions { WeightDecay = 0 }, EvalEvery = 0, EvalBatches = 4 };
        var trainer = new Trainer(TrainableModel.Initialize(spec, 2027), new InductionTask(16, 64, spec.Model.BosTokenId), options, 2027);
        double before = trainer.EvalLoss();
        while (trainer.Step < options.Steps) trainer.TrainStep();
        double after = trainer.EvalLoss(), uniform = Math.Log(63);
        output.WriteLine($"untrained {before:F3}, trained {after:F3}, uniform baseline {uniform:F3}");
        Assert.True(Math.Abs(before - uniform) < 0.5, $"untrained loss {before:F3} should be near ln(63) = {uniform:F3}");
        Assert.True(after < uniform - 1.0, $"trained loss {after:F3} is not far below the uniform baseline {uniform:F3}");
    }
}
