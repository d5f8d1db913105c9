using System.Text.Json.Nodes;

namespace SharpLens.Training.Tasks;

/// <summary>The task registry: a task from its name and settings (as <c>sharplens train --task</c> and a checkpoint's
/// trainer.json give them), and back.</summary>
public static class TrainingTasks
{
    /// <summary>The synthetic tasks' names.</summary>
    public static readonly IReadOnlyList<string> Synthetic = ["induction", "contractions"];

    /// <summary>The task <paramref name="settings"/> describe ({"name": "induction"} ...) for a model of <paramref name="spec"/>'s shape.</summary>
    /// <param name="settings">the task's JSON: its name and settings</param>
    /// <param name="spec">the model the task feeds</param>
    public static TrainingTask Create(JsonObject settings, TrainingModelConfig spec)
    {
        string name = (string?)settings["name"] ?? throw new InvalidInputException("a task needs a name");
        var cfg = spec.Model;
        int length = (int?)settings["sequence_length"] ?? cfg.NCtx;
        return name switch
        {
            "induction" => new InductionTask(length, cfg.DVocab, cfg.BosTokenId),
            "contractions" => new ContractionsTask(cfg.DVocab, cfg.BosTokenId, cfg.NCtx),
            "corpus" => CorpusTask.FromSettings(settings, spec),
            _ => throw new InvalidInputException($"unknown task '{name}': use one of {string.Join(", ", Synthetic)} or --corpus"),
        };
    }

    /// <summary>The JSON of a synthetic task by name (the settings <see cref="Create"/> reads back).</summary>
    /// <param name="name">a task name</param>
    /// <param name="sequenceLength">tokens per sequence, or null for the model's n_ctx</param>
    public static JsonObject Settings(string name, int? sequenceLength = null)
    {
        var o = new JsonObject { ["name"] = name };
        if (sequenceLength is int l) o["sequence_length"] = l;
        return o;
    }
}
