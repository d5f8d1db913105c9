using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Predictions;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens predict</c>: TransformerLens' test_prompt — the tokenized prompt, the answer's rank, logit and probability, the top-k.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (BOS prepended, as TransformerLens does)" };
        var tokens = new Option<string?>("--tokens") { Description = "Comma-separated token ids, used exactly as given (no BOS added)" };
        var tokensFile = new Option<string?>("--tokens-file") { Description = "JSON file with [ids...] or [[ids...]] used exactly as given" };
        var answer = new Option<string?>("--answer", "-a") { Description = "Answer that must be a single token, e.g. \"'re\" or \" are\"" };
        var topK = new Option<int>("--top-k", "-k") { Description = "How many top predictions to show", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print JSON on stdout instead of a table" };
        var command = new Command("predict", "Show the model's next-token prediction for a prompt") { model, raw, prompt, tokens, tokensFile, answer, topK, json };
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(prompt), answerText = parse.GetValue(answer);
            var ids = PromptIds(text, parse.GetValue(tokens), parse.GetValue(tokensFile));
            int k = parse.GetValue(topK);
            if (k <= 0) throw new InvalidInputException($"--top-k must be positive, got {k}");
            int? answerId = null;
            // Text inputs (and a multi-token answer) are checked against the folder's tokenizer before the weights load.
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw), tok =>
            {
                if (text is not null) ids = tok.Require("--prompt").ToTokens(text);
                if (answerText is not null) answerId = tok.Require("--answer").ToSingleToken(answerText);
            });
            if (parse.GetValue(tokensFile) is string file) Cli.RequireVocabulary([ids!], lm, file);
            var result = NextTokenPrediction.Run(lm, ids!, k, answerId);
            if (parse.GetValue(json)) Console.WriteLine(result.ToJson().ToJsonString(Cli.Json));
            else Print(result);
            return 0;
        });
        return command;
    }

    /// <summary>The ids of --tokens or --tokens-file; null for --prompt (text, tokenized by the model's tokenizer).</summary>
    internal static int[]? PromptIds(string? prompt, string? tokens, string? tokensFile)
    {
        int given = (prompt is null ? 0 : 1) + (tokens is null ? 0 : 1) + (tokensFile is null ? 0 : 1);
        if (given != 1) throw new InvalidInputException("give exactly one of --prompt, --tokens or --tokens-file");
        if (prompt is not null) return null;
        if (tokens is not null) return Cli.ParseIds(tokens);
        var all = Cli.ReadTokensFile(tokensFile!);
        if (all.Length != 1) throw new InvalidInputException($"--tokens-file holds {all.Length} prompts; predict takes one");
        return all[0];
    }

    private static void Print(NextTokenPrediction r)
    {
        var console = AnsiConsole.Console;
        console.MarkupLine($"[bold]Tokenized prompt:[/] {Markup.Escape(string.Join(" ", r.StrTokens.Select(t => $"|{t}|")))}");
        if (r.Answer is { } a)
        {
            console.MarkupLine($"[bold]Tokenized answer:[/] {Markup.Escape($"|{a.Token}|")}");
            console.MarkupLine($"Performance on answer token: [bold]Rank: {a.Rank}[/]  Logit: {a.Logit:F2}  Prob: {a.Prob * 100:F2}%  Token: {Markup.Escape($"|{a.Token}|")}");
        }
        var table = new Table().AddColumns("rank", "token", "id", "logit", "prob");
        table.Columns[0].RightAligned(); table.Columns[2].RightAligned(); table.Columns[3].RightAligned(); table.Columns[4].RightAligned();
        for (int i = 0; i < r.TopK.Count; i++)
        {
            var t = r.TopK[i];
            bool isAnswer = r.Answer?.TokenId == t.TokenId;
            string token = Markup.Escape($"|{t.Token}|");
            table.AddRow(i.ToString(), isAnswer ? $"[green bold]{token}[/]" : token, t.TokenId.ToString(), t.Logit.ToString("F2"), $"{t.Prob * 100:F2}%");
        }
        console.Write(table);
    }
}
