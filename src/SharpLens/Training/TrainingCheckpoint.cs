using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Loading;
using SharpLens.Tensors;

namespace SharpLens.Training;

/// <summary>
/// A resumable training state in a folder: <c>model.safetensors</c> (every weight but the tied W_U, TransformerLens
/// names, float32), <c>optimizer.safetensors</c> (AdamW's <c>exp_avg.NAME</c> and <c>exp_avg_sq.NAME</c>) and
/// <c>trainer.json</c> (format, step, seed, the model config, the task, the options and the SHA-256 of both tensor
/// files). The batches are a function of (seed, step), so the step is the whole data position. Written to
/// <c>FOLDER.tmp</c> and renamed into place, so a crash leaves the previous checkpoint whole; every file is verified
/// on load (hashes, names, shapes, finite values) before anything is trained.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>The value of trainer.json's "format".</summary>
    public const string Format = "sharplens-training-checkpoint";
    /// <summary>The version of the layout this code writes and reads.</summary>
    public const int Version = 1;

    /// <summary>What <see cref="Load"/> returns: the model and optimizer at the saved step and what the run was.</summary>
    /// <param name="Model">the weights at the saved step</param>
    /// <param name="Optimizer">AdamW with its moments and step</param>
    /// <param name="Seed">the run's seed</param>
    /// <param name="Task">the task's JSON as saved (name and settings)</param>
    /// <param name="Options">the options as saved</param>
    public sealed record State(TrainableModel Model, AdamW Optimizer, long Seed, JsonObject Task, TrainingOptions Options);

    /// <summary>Writes <paramref name="trainer"/>'s state to <paramref name="folder"/> atomically (via FOLDER.tmp).</summary>
    /// <param name="folder">the checkpoint folder (replaced)</param>
    /// <param name="trainer">the run</param>
    /// <param name="task">the task's settings as JSON (saved for resume)</param>
    public static void Save(string folder, Trainer trainer, JsonObject task)
    {
        folder = Path.GetFullPath(folder);
        string tmp = folder + ".tmp", old = folder + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        var weights = trainer.Model.Weights.Named().Where(p => p.Name != "unembed.W_U").ToList();
        SafetensorsWriter.Write(Path.Combine(tmp, "model.safetensors"), weights);
        var moments = new List<(string, Tensor)>();
        foreach (var (name, tensor) in trainer.Model.Parameters)
        {
            var (m, v) = trainer.Optimizer.Moments(name, tensor.Length);
            moments.Add(("exp_avg." + name, new Tensor(m, tensor.Shape)));
            moments.Add(("exp_avg_sq." + name, new Tensor(v, tensor.Shape)));
        }
        SafetensorsWriter.Write(Path.Combine(tmp, "optimizer.safetensors"), moments);
        var json = new JsonObject
        {
            ["format"] = Format, ["version"] = Version, ["step"] = trainer.Step, ["seed"] = trainer.Seed,
            ["config"] = trainer.Model.Spec.Json.DeepClone(), ["task"] = task.DeepClone(),
            ["options"] = JsonSerializer.SerializeToNode(trainer.Options, TrainingJson.Options),
            ["sha256"] = new JsonObject
            {
                ["model.safetensors"] = Sha256(Path.Combine(tmp, "model.safetensors")),
                ["optimizer.safetensors"] = Sha256(Path.Combine(tmp, "optimizer.safetensors")),
            },
        };
        File.WriteAllText(Path.Combine(tmp, "trainer.json"), json.ToJsonString(TrainingJson.Options));
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(folder)) Directory.Move(folder, old);
        Directory.Move(tmp, folder);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    /// <summary>Reads and verifies a checkpoint folder; every problem is one line naming the file and what to do.</summary>
    /// <param name="folder">the checkpoint folder</param>
    public static State Load(string folder)
    {
        string trainerPath = Path.Combine(folder, "trainer.json");
        if (!File.Exists(trainerPath))
            throw new InvalidCheckpointException($"no training checkpoint in {folder} (trainer.json is missing): resume a folder that `sharplens train` wrote, or start a new run");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(trainerPath)) as JsonObject
                ?? throw new InvalidCheckpointException($"{trainerPath} is not a JSON object: the checkpoint is damaged; start a new run");
        }
        catch (JsonException e)
        {
            throw new InvalidCheckpointException($"{trainerPath} is not valid JSON ({e.Message.Split('\n')[0]}): the checkpoint is damaged; start a new run");
        }
        string Damaged(string what) => $"{trainerPath}: {what}: the checkpoint is damaged or not a SharpLens training checkpoint; start a new run";
        try
        {
            if ((string?)json["format"] != Format) throw new InvalidCheckpointException(Damaged($"format is not \"{Format}\""));
            if ((int?)json["version"] != Version) throw new InvalidCheckpointException(Damaged($"version {json["version"]} is not {Version}"));
            long step = (long?)json["step"] ?? throw new InvalidCheckpointException(Damaged("no step"));
            long seed = (long?)json["seed"] ?? throw new InvalidCheckpointException(Damaged("no seed"));
            var config = json["config"] as JsonObject ?? throw new InvalidCheckpointException(Damaged("no config"));
            var task = json["task"] as JsonObject ?? throw new InvalidCheckpointException(Damaged("no task"));
            var options = json["options"]?.Deserialize<TrainingOptions>(TrainingJson.Options) ?? throw new InvalidCheckpointException(Damaged("no options"));
            if (step < 0 || step > options.Steps) throw new InvalidCheckpointException(Damaged($"step {step} is outside 0..{options.Steps}"));
            var spec = TrainingModelConfig.Parse(config.ToJsonString(), trainerPath + " (config)");
            foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
            {
                string path = Path.Combine(folder, file), expected = (string?)json["sha256"]?[file] ?? throw new InvalidCheckpointException(Damaged($"no sha256 of {file}"));
                if (!File.Exists(path)) throw new InvalidCheckpointException($"{path} is missing: the checkpoint is incomplete; start a new run");
                if (Sha256(path) != expected) throw new InvalidCheckpointException($"{path} does not match its SHA-256 in trainer.json: the checkpoint is damaged; start a new run");
            }
            var model = TrainableModel.Initialize(spec, seed);
            using (var file = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors")))
                foreach (var (name, tensor) in model.Weights.Named().Where(p => p.Name != "unembed.W_U"))
                    ReadInto(file, name, tensor);
            model.SyncTiedUnembedding();
            var optimizer = new AdamW(options.Adam) { Step = step };
            using (var file = SafetensorsFile.Open(Path.Combine(folder, "optimizer.safetensors")))
                foreach (var (name, tensor) in model.Parameters)
                {
                    var (m, v) = optimizer.Moments(name, tensor.Length);
                    ReadInto(file, "exp_avg." + name, new Tensor(m, tensor.Shape));
                    ReadInto(file, "exp_avg_sq." + name, new Tensor(v, tensor.Shape));
                }
            return new State(model, optimizer, seed, task, options);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException or InvalidInputException && e is not InvalidCheckpointException)
        {
            throw new InvalidCheckpointException(Damaged(e.Message.Split('\n')[0]), e);
        }
    }

    private static void ReadInto(SafetensorsFile file, string name, Tensor destination)
    {
        if (!file.Contains(name)) throw new InvalidCheckpointException($"{file.Path} has no tensor '{name}': the checkpoint does not match its config; start a new run");
        var t = file.ReadTensor(name);
        if (!t.Shape.AsSpan().SequenceEqual(destination.Shape))
            throw new InvalidCheckpointException($"tensor '{name}' in {file.Path} has shape {t.ShapeString}, expected {destination.ShapeString}: the checkpoint does not match its config; start a new run");
        foreach (float x in t.Data)
            if (!float.IsFinite(x)) throw new InvalidCheckpointException($"tensor '{name}' in {file.Path} holds NaN or infinite values: the checkpoint is damaged; start a new run");
        t.Data.CopyTo(destination.Data, 0);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    internal static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>JSON settings for the trainer's files (snake_case names, indented).</summary>
internal static class TrainingJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>One log record per line (snake_case, not indented).</summary>
    public static readonly JsonSerializerOptions Line = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
