using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Families.Gpt2;
using SharpLens.Loading;
using SharpLens.Training.Tasks;

namespace SharpLens.Training;

/// <summary>
/// A training run in an output folder: the loop, its JSON log (<c>train_log.jsonl</c>, one <see cref="TrainingRecord"/>
/// per logged step), periodic checkpoints (<c>checkpoint/</c>, <see cref="TrainingCheckpoint"/>) and, at the end, the
/// model in Hugging Face's GPT-2 layout (<c>config.json</c> with bos/eos ids and the TransformerLens config,
/// <c>model.safetensors</c>, the task's tokenizer files) that <c>--model DIR</c> and transformers load.
/// A new run refuses an existing folder; <see cref="Resume"/> continues one from its checkpoint exactly.
/// </summary>
public sealed class TrainingRun
{
    /// <summary>The JSON log's file name.</summary>
    public const string LogFileName = "train_log.jsonl";
    /// <summary>The checkpoint folder's name.</summary>
    public const string CheckpointFolderName = "checkpoint";

    private readonly JsonObject _taskSettings;

    private TrainingRun(string folder, Trainer trainer, JsonObject taskSettings)
    {
        Folder = folder;
        Trainer = trainer;
        _taskSettings = taskSettings;
    }

    /// <summary>The output folder.</summary>
    public string Folder { get; }
    /// <summary>The loop.</summary>
    public Trainer Trainer { get; }

    /// <summary>A new run into <paramref name="folder"/>, which must not exist yet or be empty.</summary>
    /// <param name="folder">the output folder (created)</param>
    /// <param name="model">the initial model</param>
    /// <param name="taskSettings">the task's settings (<see cref="TrainingTasks.Create"/>)</param>
    /// <param name="options">how to train</param>
    /// <param name="seed">the run's seed</param>
    public static TrainingRun Start(string folder, TrainableModel model, JsonObject taskSettings, TrainingOptions options, long seed)
    {
        folder = Path.GetFullPath(folder);
        // An empty folder is fine (the CLI's folder lock creates --out and holds .sharplens.lock in it).
        if (File.Exists(folder) || (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any(e => Path.GetFileName(e) != ".sharplens.lock")))
            throw new InvalidInputException($"output folder {folder} already exists: pass --resume to continue its run, or choose a new --out");
        var trainer = new Trainer(model, TrainingTasks.Create(taskSettings, model.Spec), options, seed);
        Directory.CreateDirectory(folder);
        return new TrainingRun(folder, trainer, taskSettings);
    }

    /// <summary>Continues the run in <paramref name="folder"/> from its checkpoint (model, optimizer, step, options, task).</summary>
    /// <param name="folder">a folder a run wrote</param>
    public static TrainingRun Resume(string folder)
    {
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"--resume: {folder} does not exist; start a new run without --resume");
        var state = TrainingCheckpoint.Load(Path.Combine(folder, CheckpointFolderName));
        var trainer = new Trainer(state.Model, TrainingTasks.Create(state.Task, state.Model.Spec), state.Options, state.Seed, state.Optimizer);
        var run = new TrainingRun(folder, trainer, state.Task);
        run.TruncateLog(trainer.Step);
        return run;
    }

    /// <summary>Trains to the last step: logs, evaluates and checkpoints as the options say, then saves the model.</summary>
    /// <param name="onRecord">called with every step's record (progress), or null</param>
    /// <param name="cancel">stops after the current step (a checkpoint is written first)</param>
    /// <exception cref="TrainingDivergedException">the loss became NaN or infinite: the last checkpoint stays, no model is saved.</exception>
    public void Run(Action<TrainingRecord>? onRecord = null, CancellationToken cancel = default)
    {
        var options = Trainer.Options;
        using var log = new StreamWriter(Path.Combine(Folder, LogFileName), append: true);
        while (Trainer.Step < options.Steps)
        {
            var record = Trainer.TrainStep();
            onRecord?.Invoke(record);
            if (record.Step % options.LogEvery == 0 || record.EvalLoss is not null || record.Step == options.Steps)
            {
                log.WriteLine(JsonSerializer.Serialize(record, TrainingJson.Line));
                log.Flush();
            }
            bool last = record.Step == options.Steps;
            if (last || cancel.IsCancellationRequested || (options.CheckpointEvery > 0 && record.Step % options.CheckpointEvery == 0))
                TrainingCheckpoint.Save(Path.Combine(Folder, CheckpointFolderName), Trainer, _taskSettings);
            if (cancel.IsCancellationRequested && !last) return;
        }
        SaveModel(Folder, Trainer.Model, Trainer.Task);
    }

    /// <summary>The log's records, in order.</summary>
    /// <param name="folder">a run's folder</param>
    public static IReadOnlyList<TrainingRecord> ReadLog(string folder)
    {
        string path = Path.Combine(folder, LogFileName);
        if (!File.Exists(path)) return [];
        return File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<TrainingRecord>(l, TrainingJson.Line)!).ToList();
    }

    /// <summary>
    /// Writes <paramref name="model"/> in Hugging Face's GPT-2 layout into <paramref name="folder"/>: config.json
    /// (GPT2LMHeadModel, bos_token_id = eos_token_id = the model's BOS, tie_word_embeddings, and the TransformerLens
    /// config under <c>transformer_lens_config</c>), model.safetensors (HF keys, tied lm_head left out) and the task's
    /// files. Each file is written to a temporary name and renamed.
    /// </summary>
    /// <param name="folder">the model folder</param>
    /// <param name="model">the trained model</param>
    /// <param name="task">the task (it may add a tokenizer)</param>
    public static void SaveModel(string folder, TrainableModel model, TrainingTask? task)
    {
        var cfg = model.Spec.Model;
        var tensors = Gpt2WeightMap.ToHuggingFace(cfg, model.Weights).ToList();
        var hf = new Gpt2Config
        {
            NLayer = cfg.NLayers, NHead = cfg.NHeads, NEmbd = cfg.DModel, NPositions = cfg.NCtx, VocabSize = cfg.DVocab,
            LayerNormEpsilon = cfg.LayerNormEps, ActivationFunction = "gelu_new", NInner = cfg.AttnOnly ? 1 : cfg.DMlp,
            BosTokenId = cfg.BosTokenId, EosTokenId = cfg.BosTokenId,
            Extra = new Dictionary<string, JsonNode?>
            {
                ["tie_word_embeddings"] = true, ["torch_dtype"] = "float32",
                ["resid_pdrop"] = 0.0, ["embd_pdrop"] = 0.0, ["attn_pdrop"] = 0.0,
                ["transformer_lens_config"] = model.Spec.Json.DeepClone(),
            },
        };
        Directory.CreateDirectory(folder);
        SafetensorsWriter.Write(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        task?.WriteModelFiles(folder);
        string configPath = Path.Combine(folder, "config.json");
        File.WriteAllText(configPath + ".tmp", hf.ToJson());
        File.Move(configPath + ".tmp", configPath, overwrite: true);
    }

    private void TruncateLog(long step)
    {
        string path = Path.Combine(Folder, LogFileName);
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(l => l.Length > 0)
            .TakeWhile(l => JsonSerializer.Deserialize<TrainingRecord>(l, TrainingJson.Line)!.Step <= step).ToList();
        File.WriteAllLines(path + ".tmp", kept);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
