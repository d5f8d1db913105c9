using System.CommandLine;
using SharpLens.Analysis;
using SharpLens.Model;
using SharpLens.Neurons;
using SharpLens.Reports;
using SharpLens.Reports.Neurons;
using SharpLens.Tokenization;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens view attention|neurons</c>: the study's attention-pattern and text-neuron views for any prompt,
/// written as interactive HTML (plus PNG, SVG, CSV and JSON).
/// </summary>
internal static class ViewCommand
{
    public static Command Create() => new("view", "Draw attention patterns of chosen heads, or text coloured by neuron activations")
    {
        Attention(),
        Neurons(),
    };

    private static Command Attention()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (BOS prepended, as TransformerLens does)" };
        var tokens = new Option<string?>("--tokens") { Description = "Comma-separated token ids, used exactly as given (no BOS added)" };
        var heads = new Option<string>("--heads") { Description = "Heads, e.g. L7H11,L9H9 (also 7.11, a7.h11)", Required = true };
        var output = OutputPaths.Folder(new Option<string>("--out", "-o") { Description = "Output folder for the HTML view and its PNG, SVG, CSV and JSON files", Required = true });
        var command = new Command("attention", "Attention patterns of chosen heads on one prompt (tokens on both axes, hover a token)")
            { model, raw, prompt, tokens, heads, output };
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(prompt);
            var given = PredictCommand.PromptIds(text, parse.GetValue(tokens), null);
            var wanted = HeadId.ParseList(parse.GetValue(heads)!);
            var (lm, ids) = Cli.LoadModelForPrompt(parse.GetValue(model)!, parse.GetValue(raw), text, given);
            foreach (var head in wanted) head.RequireIn(lm.Config);
            var patterns = ComponentActivations.HeadPatterns(lm, ids, wanted);
            var figure = new AttentionFigure(StrTokens(lm, ids), wanted.Select((h, i) => new AttentionHead(h, patterns[i]))) { Title = "Attention patterns" };
            string dir = parse.GetValue(output)!;
            var files = FigureWriter.Write(figure, dir, "attention");
            RunManifest.ForFigures("view attention", $"Attention patterns of {string.Join(", ", figure.Heads.Select(h => h.Name))}", lm.Config.ModelName, [(figure, files)]).Write(dir);
            Cli.Err.MarkupLine($"wrote {Markup.Escape(files.Html ?? parse.GetValue(output)!)}");
            return 0;
        });
        return command;
    }

    private static Command Neurons()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var prompts = new Option<string[]>("--prompt", "-p") { Description = "Prompt text (repeatable; BOS prepended, as TransformerLens does)" };
        var tokensFile = new Option<string?>("--tokens-file") { Description = "JSON file [[ids...], ...] used exactly as given" };
        var neurons = new Option<string>("--neurons") { Description = "Neurons, e.g. L8N2744,L10N1063 (also 8.2744)", Required = true };
        var min = new Option<double?>("--min") { Description = "Fixed colour range minimum (default: symmetric, automatic)" };
        var max = new Option<double?>("--max") { Description = "Fixed colour range maximum (default: symmetric, automatic)" };
        var output = OutputPaths.Folder(new Option<string>("--out", "-o") { Description = "Output folder for the HTML view and its PNG, SVG, CSV and JSON files", Required = true });
        var neuronsDb = NeuronsDb.Option("link each neuron to its page (written into --out)");
        var command = new Command("neurons", "Text coloured by MLP neuron activations (mlp.hook_post), value on hover")
            { model, raw, prompts, tokensFile, neurons, min, max, output, neuronsDb };
        command.SetAction(parse =>
        {
            foreach (var (name, bound) in new[] { ("--min", parse.GetValue(min)), ("--max", parse.GetValue(max)) })
                if (bound is double b && !double.IsFinite(b)) throw new InvalidInputException($"{name} {b} is not a finite number: give the colour range's end as a number");
            if (parse.GetValue(min) is double lo && parse.GetValue(max) is double hi && !(lo < hi))
                throw new InvalidInputException($"--min {lo} must be below --max {hi}: the colour range runs from --min to --max");
            var wanted = NeuronId.ParseList(parse.GetValue(neurons)!);
            using var index = NeuronsDb.Open(parse.GetValue(neuronsDb), wanted);
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            index?.RequireModel(lm);
            foreach (var neuron in wanted) neuron.RequireIn(lm.Config);
            var figure = new NeuronTextFigure(wanted) { Title = "Neuron activations", Min = parse.GetValue(min), Max = parse.GetValue(max) };
            var texts = parse.GetValue(prompts) ?? [];
            string? file = parse.GetValue(tokensFile);
            if ((texts.Length > 0) == (file is not null)) throw new InvalidInputException("give --prompt (one or more) or --tokens-file, not both and not neither");
            var sequences = file is not null ? Cli.ReadTokensFile(file) : texts.Select(t => lm.RequireTokenizer().ToTokens(t)).ToArray();
            if (file is not null) Cli.RequireVocabulary(sequences, lm, file);
            foreach (var ids in sequences)
            {
                var activations = ComponentActivations.NeuronActivations(lm, TokenBatch.Single(ids), wanted);
                figure.Add(new NeuronTextPrompt(StrTokens(lm, ids), activations.Select(perPrompt => perPrompt[0]).ToArray()));
            }
            string dir = parse.GetValue(output)!;
            var pages = index is null ? new Dictionary<string, string>()
                : NeuronPages.Write(index, dir, wanted).ToDictionary(p => p.Key.ToString(), p => Path.GetFileName(p.Value));
            var files = FigureWriter.Write(figure, dir, "neurons", link: pages.GetValueOrDefault);
            RunManifest.ForFigures("view neurons", $"Neuron activations of {string.Join(", ", figure.Neurons)}", lm.Config.ModelName, [(figure, files)]).Write(dir);
            Cli.Err.MarkupLine($"wrote {Markup.Escape(files.Html ?? parse.GetValue(output)!)}");
            return 0;
        });
        return command;
    }

    private static string[] StrTokens(HookedTransformer lm, int[] ids) => lm.Tokenizer?.ToStrTokens(ids) ?? ids.Select(i => $"<{i}>").ToArray();
}
