using System.CommandLine;
using SharpLens.Training;
using SharpLens.Training.Tasks;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens train</c>: train a model from a TransformerLens config (or fine-tune a checkpoint) on a
/// synthetic task, with checkpoints, a JSON log, a loss plot and the result in Hugging Face's GPT-2 layout.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var task = new Option<string?>("--task") { Description = $"Synthetic task with a planted mechanism: {string.Join(", ", TrainingTasks.Synthetic)} (docs/training.md)" };
        var corpus = new Option<string?>("--corpus") { Description = "Train on text instead of a task: a text file, .jsonl, a folder of them or the Brown corpus, with the model's tokenizer (GPT-2's for d_vocab 50257)" };
        var config = new Option<string?>("--config") { Description = "Model config: JSON in TransformerLens' HookedTransformerConfig names (n_layers, d_model, n_heads, d_vocab, n_ctx, ...)" };
        var model = new Option<string?>("--model", "-m") { Description = "Fine-tune this model folder (GPT-2 layout) instead of a new model from --config" };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 1000 };
        var seed = new Option<long?>("--seed") { Description = "Seed of the initial weights and of the batches (default: the config's seed, else 0)" };
        var outDir = OutputPaths.Folder(new Option<string>("--out", "-o") { Description = "Output folder (must be new or empty unless --resume)", Required = true });
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint (same options as saved)" };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per micro-batch", DefaultValueFactory = _ => 16 };
        var accumulate = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 1e-3 };
        var warmup = new Option<int?>("--warmup") { Description = "Linear warm-up steps (default 5% of --steps, at most 200)" };
        var minLr = new Option<double?>("--min-lr") { Description = "Learning rate at the end of the cosine decay (default --lr / 10)" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW's decoupled weight decay", DefaultValueFactory = _ => 0.01 };
        var decayAll = new Option<bool>("--decay-all") { Description = "Decay biases, LayerNorm weights and embeddings too (TransformerLens' train.py does)" };
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clipping (0 = off)", DefaultValueFactory = _ => 1.0 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Held-out loss every N steps (0 = never)", DefaultValueFactory = _ => 100 };
        var evalBatches = new Option<int>("--eval-batches") { Description = "Held-out batches per evaluation", DefaultValueFactory = _ => 4 };
        var logEvery = new Option<int>("--log-every") { Description = "A JSON log record every N steps", DefaultValueFactory = _ => 10 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "A checkpoint every N steps (0 = only at the end)", DefaultValueFactory = _ => 500 };
        var seqLen = new Option<int?>("--seq-len") { Description = "Tokens per sequence, BOS included (default n_ctx)" };
        var command = new Command("train", "Train a small model on a task with a planted mechanism (or fine-tune one); checkpoints resume exactly")
        {
            task, corpus, config, model, steps, seed, outDir, resume, batch, accumulate, lr, warmup, minLr, weightDecay, decayAll, clip,
            evalEvery, evalBatches, logEvery, checkpointEvery, seqLen,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(outDir)!;
            TrainingRun run;
            if (parse.GetValue(resume))
            {
                var given = new Option[] { task, corpus, config, model, seed, seqLen }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
                if (given.Count > 0)
                    throw new InvalidInputException($"--resume continues the run exactly as it was saved: leave out {string.Join(", ", given)}");
                run = TrainingRun.Resume(folder);
                if (parse.GetResult(steps) is { Implicit: false } && parse.GetValue(steps) != run.Trainer.Options.Steps)
                    throw new InvalidInputException($"--resume: the run in {folder} was started with --steps {run.Trainer.Options.Steps}; pass the same (changing it would change the schedule)");
            }
            else
            {
                string? taskName = parse.GetValue(task), corpusPath = parse.GetValue(corpus);
                if ((taskName is null) == (corpusPath is null))
                    throw new InvalidInputException($"give --task ({string.Join(", ", TrainingTasks.Synthetic)}) or --corpus, one of them");
                if (taskName is not null && !TrainingTasks.Synthetic.Contains(taskName))
                    throw new InvalidInputException($"unknown --task '{taskName}': use one of {string.Join(", ", TrainingTasks.Synthetic)}");
                var text = corpusPath is null ? null : SharpLens.Corpora.Corpus.Open(corpusPath);
                string? configPath = parse.GetValue(config), modelPath = parse.GetValue(model);
                if ((configPath is null) == (modelPath is null)) throw new InvalidInputException("give either --config (a new model) or --model (fine-tune a checkpoint), not both or neither");
                var options = new TrainingOptions
                {
                    Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), GradientAccumulation = parse.GetValue(accumulate),
                    LearningRate = parse.GetValue(lr), WarmupSteps = parse.GetValue(warmup), MinLearningRate = parse.GetValue(minLr),
                    MaxGradNorm = parse.GetValue(clip), EvalEvery = parse.GetValue(evalEvery), EvalBatches = parse.GetValue(evalBatches),
                    LogEvery = parse.GetValue(logEvery), CheckpointEvery = parse.GetValue(checkpointEvery),
                    Adam = new AdamWOptions { WeightDecay = parse.GetValue(weightDecay), DecayAll = parse.GetValue(decayAll) },
                };
                options.Validate();
                var initial = configPath is not null ? null : TrainableModel.Load(modelPath!);
                var spec = initial?.Spec ?? TrainingModelConfig.Load(configPath!);
                long runSeed = parse.GetValue(seed) ?? spec.Seed ?? 0;
                var trainable = initial ?? TrainableModel.Initialize(spec, runSeed);
                var settings = text is null ? TrainingTasks.Settings(taskName!, parse.GetValue(seqLen))
                    : SharpLens.Training.Tasks.CorpusTask.Settings(text, parse.GetValue(seqLen), modelPath);
                run = TrainingRun.Start(folder, trainable, settings, options, runSeed);
            }
            Train(run);
            return 0;
        });
        return command;
    }

    private static void Train(TrainingRun run)
    {
        var trainer = run.Trainer;
        var options = trainer.Options;
        Cli.Err.MarkupLine(Markup.Escape($"{trainer.Task.Describe()}; {trainer.Model.Parameters.Sum(p => (long)p.Tensor.Length):N0} parameters, steps {trainer.Step}..{options.Steps}, seed {trainer.Seed}"));
        TrainingRecord? last = null;
        double? lastEval = null;
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            Cli.Err.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask("training", maxValue: options.Steps);
                    bar.Value = trainer.Step;
                    run.Run(r =>
                    {
                        last = r;
                        lastEval = r.EvalLoss ?? lastEval;
                        bar.Value = r.Step;
                        bar.Description = Markup.Escape($"step {r.Step}: loss {r.Loss:F4}{(lastEval is double e ? $", eval {e:F4}" : "")}, {r.TokensPerSecond:N0} tokens/s");
                    }, cancel.Token);
                });
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (trainer.Step < options.Steps)
        {
            Cli.Err.MarkupLine(Markup.Escape($"stopped at step {trainer.Step}; checkpoint in {Path.Combine(run.Folder, TrainingRun.CheckpointFolderName)} (continue with --resume)"));
            return;
        }
        TrainingPlot.Write(run.Folder);
        Cli.Err.MarkupLine(Markup.Escape($"trained {options.Steps} steps: loss {last?.Loss:F4}{(lastEval is double ev ? $", eval loss {ev:F4}" : "")}; model in {run.Folder} (load with --model {run.Folder}), log {TrainingRun.LogFileName}, plot loss.html"));
    }
}
