using System.CommandLine;
using Spectre.Console;
using SharpLens.Loading;
using SharpLens.Tokenization;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens activations</c>: writes chosen hook activations to safetensors (tensor name = hook name) for Python users.</summary>
internal static class ActivationsCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var prompt = new Option<string[]>("--prompt", "-p") { Description = "Prompt text (repeatable; BOS prepended, as TransformerLens does)", AllowMultipleArgumentsPerToken = false };
        var tokensFile = new Option<string?>("--tokens-file") { Description = "JSON file [[ids...], ...] used exactly as given" };
        var hooks = new Option<string>("--hooks") { Description = "Comma-separated hook names, e.g. blocks.7.attn.hook_z,blocks.8.mlp.hook_post", Required = true };
        var output = OutputPaths.File(new Option<string>("--out", "-o") { Description = "Output .safetensors file", Required = true });
        var command = new Command("activations", "Record activations at hook points and save them as safetensors") { model, raw, prompt, tokensFile, hooks, output };
        command.SetAction(parse =>
        {
            var prompts = parse.GetValue(prompt) ?? [];
            string? file = parse.GetValue(tokensFile);
            if ((prompts.Length > 0) == (file is not null)) throw new InvalidInputException("give --prompt (one or more) or --tokens-file, not both and not neither");
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            var names = parse.GetValue(hooks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(lm.ValidateHookName).Distinct().ToList();
            if (names.Count == 0) throw new InvalidInputException("--hooks is empty: name at least one hook point");
            var fileIds = file is null ? null : Cli.ReadTokensFile(file);
            if (fileIds is not null) Cli.RequireVocabulary(fileIds, lm, file!);
            TokenBatch batch = fileIds is not null
                ? new TokenBatch(fileIds.Select(s => (IReadOnlyList<int>)s).ToList(), lm.Tokenizer?.PadTokenId ?? lm.Config.BosTokenId)
                : lm.RequireTokenizer().ToTokens(prompts);
            var (_, cache) = lm.RunWithCache(batch, names, Model.LogitsMode.None);
            var metadata = new Dictionary<string, string>
            {
                ["model"] = lm.Config.ModelName,
                ["weights"] = lm.WeightsProcessed ? "processed (TransformerLens from_pretrained defaults)" : "raw Hugging Face",
                ["lengths"] = string.Join(",", batch.Lengths),
                ["tokens"] = System.Text.Json.JsonSerializer.Serialize(batch.Sequences()),
            };
            string path = parse.GetValue(output)!;
            SafetensorsWriter.Write(path, names.Select(n => (n, cache[n])), metadata);
            Cli.Err.MarkupLine($"wrote {names.Count} activations for {batch.Batch} prompt(s) x {batch.Pos} positions to {Spectre.Console.Markup.Escape(path)}");
            return 0;
        });
        return command;
    }
}
