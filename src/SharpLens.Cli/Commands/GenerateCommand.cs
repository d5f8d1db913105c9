using System.CommandLine;
using SharpLens.Generation;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens generate</c>: continue a prompt (greedy or sampled), streaming tokens as they come.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (BOS prepended, as TransformerLens does)" };
        var tokens = new Option<string?>("--tokens") { Description = "Comma-separated token ids, used exactly as given (no BOS added)" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "How many tokens to generate at most (fewer when the context length is reached)", DefaultValueFactory = _ => 20 };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 picks the most likely token (greedy)", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0 = all)" };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling: sample among the most likely tokens whose probabilities sum to this", DefaultValueFactory = _ => 1f };
        var seed = new Option<int?>("--seed") { Description = "Random seed for reproducible sampling" };
        var command = new Command("generate", "Generate a continuation with a KV cache") { model, raw, prompt, tokens, maxNew, temperature, topK, topP, seed };
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(prompt);
            var given = PredictCommand.PromptIds(text, parse.GetValue(tokens), null);
            var options = new SamplingOptions
            {
                MaxNewTokens = parse.GetValue(maxNew), Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP), Seed = parse.GetValue(seed),
            };
            options.Validate();
            var (lm, ids) = Cli.LoadModelForPrompt(parse.GetValue(model)!, parse.GetValue(raw), text, given);
            string Text(int id) => lm.Tokenizer?.ToStrTokens([id])[0] ?? $"<{id}>";
            Console.Write(lm.Tokenizer?.ToString(ids.Where(i => i != lm.Config.BosTokenId).ToArray()) ?? string.Join(" ", ids.Select(Text)));
            var all = TextGenerator.Generate(lm, ids, options, id => Console.Write(Text(id)));
            Console.WriteLine();
            int produced = all.Length - ids.Length;
            bool stopToken = produced > 0 && all[^1] == options.StopToken;
            if (produced < options.MaxNewTokens && !stopToken && all.Length >= lm.Config.NCtx)
                Cli.Err.MarkupLine(Markup.Escape(
                    $"note: stopped after {produced} of {options.MaxNewTokens} new tokens at the model's context length of {lm.Config.NCtx} tokens (the prompt has {ids.Length}): shorten the prompt to generate more"));
            return 0;
        });
        return command;
    }
}
