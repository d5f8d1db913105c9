using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Inputs;
using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>
/// Reads the fields of one explorer request (a JSON object) with the CLI's checks: every problem becomes an
/// <see cref="InvalidInputException"/> whose one-line message names the field and the fix, raised before any model work.
/// </summary>
internal sealed class ExplorerRequest(JsonObject body, HookedTransformer model)
{
    public JsonObject Body { get; } = body;

    /// <summary>Parses a request body; malformed JSON or a non-object is an input error.</summary>
    public static ExplorerRequest Parse(string text, HookedTransformer model)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException e) { throw new InvalidInputException($"request is not valid JSON: {e.Message.Split('.')[0]}"); }
        return new ExplorerRequest(node as JsonObject ?? throw new InvalidInputException("request must be a JSON object"), model);
    }

    /// <summary>The prompt's token ids: "prompt" (text, BOS prepended) or "tokens" (ids used as given), within the context.</summary>
    public int[] Prompt()
    {
        int[] ids;
        if (Body["tokens"] is JsonArray list)
            ids = list.Select((n, i) => n is JsonValue v && v.TryGetValue(out int id) ? id
                : throw new InvalidInputException($"tokens[{i}] is not an integer token id")).ToArray();
        else if (Body["prompt"] is JsonValue pv && pv.TryGetValue(out string? text))
        {
            if (text.Length == 0) throw new InvalidInputException("the prompt is empty: type a prompt");
            var tokenizer = model.Tokenizer ?? throw model.NoTokenizerError("a prompt text");
            // A text of more characters than n_ctx of the vocabulary's longest tokens cannot fit: refused at once, without
            // tokenizing it (a pasted 200 KB text took 20 s to tokenize only to be refused).
            long mostChars = (long)model.Config.NCtx * tokenizer.MaxTokenChars;
            if (text.Length > mostChars)
                throw new InvalidInputException($"the prompt is {text.Length:N0} characters, more than the model's context of {model.Config.NCtx} tokens can hold (at most {mostChars:N0} characters): shorten it");
            ids = tokenizer.ToTokens(text);
        }
        else throw new InvalidInputException("give \"prompt\" (text) or \"tokens\" (ids)");
        if (ids.Length == 0) throw new InvalidInputException("the prompt has no tokens: give at least one");
        if (ids.Length > model.Config.NCtx)
            throw new InvalidInputException($"the prompt is {ids.Length} tokens, longer than the model's context of {model.Config.NCtx}: shorten it");
        foreach (int id in ids)
            if ((uint)id >= (uint)model.Config.DVocab) throw new InvalidInputException($"token id {id} is outside the vocabulary (0..{model.Config.DVocab - 1})");
        return ids;
    }

    /// <summary>The analysis input ("clean", "corrupted", "answers"), as the CLI's input files; with no corrupted prompts
    /// and <paramref name="corruptedOptional"/>, the clean prompts stand in (attribution reads only the clean run).</summary>
    public AnalysisInput Input(bool alignedLengths, bool corruptedOptional)
    {
        var input = Body["input"] as JsonObject ?? throw new InvalidInputException("\"input\" is missing: give {\"clean\": [...], \"answers\": [[correct, wrong], ...]}");
        if (corruptedOptional && input["corrupted"] is null or JsonArray { Count: 0 })
        {
            input = (JsonObject)input.DeepClone();
            input["corrupted"] = input["clean"]?.DeepClone();
        }
        return AnalysisInput.Parse(input.ToJsonString(), AnalysisInputOptions.For(model, alignedLengths), "input");
    }

    /// <summary>An integer field, checked against [min, max].</summary>
    public int Int(string name, int min, int max, int? fallback = null)
    {
        var node = Body[name];
        if (node is null && fallback is int f) return f;
        if (node is not JsonValue v || !v.TryGetValue(out int value))
            throw new InvalidInputException($"\"{name}\" must be an integer from {min} to {max}");
        if (value < min || value > max) throw new InvalidInputException($"\"{name}\" {value} is out of range: use {min}..{max}");
        return value;
    }

    /// <summary>The head the body names, by "name" (any form <see cref="HeadId.Parse"/> reads, e.g. "L7H11") or by
    /// "layer" and "head", checked against this model.</summary>
    public HeadId Head() => (Body["name"] is JsonNode name ? HeadId.Parse(Text(name, "name"))
        : new HeadId(Int("layer", 0, int.MaxValue), Int("head", 0, int.MaxValue))).RequireIn(model.Config);

    /// <summary>The neuron the body names, by "name" (any form <see cref="NeuronId.Parse"/> reads, e.g. "L8N2744") or by
    /// "layer" and "neuron", checked against this model.</summary>
    public NeuronId Neuron() => (Body["name"] is JsonNode name ? NeuronId.Parse(Text(name, "name"))
        : new NeuronId(Int("layer", 0, int.MaxValue), Int("neuron", 0, int.MaxValue))).RequireIn(model.Config);

    static string Text(JsonNode node, string key) =>
        node is JsonValue v && v.TryGetValue(out string? s) ? s : throw new InvalidInputException($"\"{key}\" must be a string such as \"L7H11\"");

    /// <summary>A list of strings (absent: empty).</summary>
    public string[] Strings(string name) => Body[name] switch
    {
        null => [],
        JsonArray a => a.Select((n, i) => n is JsonValue v && v.TryGetValue(out string? s) ? s : throw new InvalidInputException($"{name}[{i}] must be a string")).ToArray(),
        _ => throw new InvalidInputException($"\"{name}\" must be a list of strings"),
    };

    /// <summary>A string field, or <paramref name="fallback"/> when absent.</summary>
    public string String(string name, string fallback) => Body[name] switch
    {
        null => fallback,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw new InvalidInputException($"\"{name}\" must be a string"),
    };
}
