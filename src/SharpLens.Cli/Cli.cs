using System.CommandLine;
using System.Text.Json;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tokenization;
using Spectre.Console;

namespace SharpLens.Cli;

/// <summary>What every command shares: model options, loading with progress, one-line errors, atomic output.</summary>
internal static class Cli
{
    /// <summary>Progress and messages go to stderr so --json output on stdout stays machine-readable.</summary>
    public static readonly IAnsiConsole Err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    public static Option<string> ModelOption() => new("--model", "-m")
    {
        Description = "Model folder (config.json + model.safetensors) or Hugging Face id such as gpt2, distilgpt2, gpt2-medium",
        Required = true,
    };

    public static Option<bool> RawWeightsOption() => new("--raw-weights")
    {
        Description = "Use unprocessed Hugging Face weights (no fold_ln / centring / value-bias folding; head DLA then includes each head's b_V·W_O, as in TransformerLens without processing)",
    };

    /// <summary>Wider than any line we print: piped output must not wrap in the middle of tokens.</summary>
    private const int UnwrappedWidth = 1 << 14;

    /// <summary>
    /// Parses and runs a command line. A parse error (unknown option, bad value, missing option) is one line on stderr
    /// with a pointer to --help, exit 2; output paths are checked and output folders locked before the command runs;
    /// every error a user can cause is one line, exit 2.
    /// </summary>
    public static int Invoke(Command root, string[] args)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Console.Profile.Width = UnwrappedWidth;
        if (Console.IsErrorRedirected) Err.Profile.Width = UnwrappedWidth;
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            Console.Error.WriteLine($"error: {ParseError(parse)}");
            return 2;
        }
        try
        {
            var locks = parse.Action is not null && parse.Action == parse.CommandResult.Command.Action ? OutputPaths.CheckAndLock(parse) : [];
            try
            {
                return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            }
            finally
            {
                foreach (var l in locks) l.Dispose();
            }
        }
        catch (Exception e) when (Describe(e) is string message)
        {
            Console.Error.WriteLine($"error: {message}");
            return 2;
        }
    }

    /// <summary>The first parse error in one line, naming the option it concerns, and where to read the usage.</summary>
    private static string ParseError(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = (System.CommandLine.Parsing.SymbolResult?)parse.CommandResult; r is not null; r = r.Parent)
            if (r is System.CommandLine.Parsing.CommandResult c) names.Insert(0, c.Command.Name);
        string help = $"Run '{string.Join(" ", names)} --help' for the options.";
        // A mistyped option or command explains every other error (a required option "missing", a stray value).
        if (parse.UnmatchedTokens.Count > 0)
        {
            string token = parse.UnmatchedTokens[0];
            var command = parse.CommandResult.Command;
            var known = command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name))
                .Concat(command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
            string? guess = known.Select(k => (k, d: EditDistance(token, k))).Where(x => x.d <= 2).OrderBy(x => x.d).Select(x => x.k).FirstOrDefault();
            return $"'{token}' is not an option or command of {string.Join(" ", names)}{(guess is null ? "" : $" (did you mean {guess}?)")}. {help}";
        }
        var error = parse.Errors[0];
        string message = System.Text.RegularExpressions.Regex.Replace(error.Message, @"\s*\n\s*", " ").Trim().Replace("' '", "', '")
            .Replace("as expected type 'System.Int32'", "as a whole number").Replace("as expected type 'System.Double'", "as a number")
            .Replace("as expected type 'System.Single'", "as a number");
        string? option = error.SymbolResult switch
        {
            System.CommandLine.Parsing.OptionResult o => o.Option.Name,
            System.CommandLine.Parsing.ArgumentResult { Parent: System.CommandLine.Parsing.OptionResult o } => o.Option.Name,
            _ => null,
        };
        if (option is not null && !message.Contains(option, StringComparison.Ordinal)) message = $"{option}: {message}";
        return $"{message.TrimEnd('.')}. {help}";
    }

    /// <summary>Levenshtein distance, for "did you mean" on a mistyped option.</summary>
    private static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    // One line that names the problem; no stack trace for anything a user can cause.
    private static string? Describe(Exception e) => e switch
    {
        SharpLensException s => s.Message,
        AggregateException { InnerExceptions.Count: 1 } a => Describe(a.InnerException!),
        FileNotFoundException f => $"file not found: {f.FileName ?? f.Message}",
        DirectoryNotFoundException d => d.Message,
        UnauthorizedAccessException or IOException when FileErrors.Describe(e) is string fileError => fileError,
        UnauthorizedAccessException u => u.Message,
        JsonException j => $"invalid JSON: {j.Message}",
        IOException io => io.Message,
        FormatException f => $"invalid number: {f.Message}",
        _ => null,
    };

    /// <summary>Loads a model for a command (internal class: documented for readers).</summary>
    /// <param name="model">A model folder or hub id.</param>
    /// <param name="rawWeights">Skip TransformerLens' weight processing.</param>
    /// <param name="beforeWeights">Checks text inputs against the folder's tokenizer before the weights are read.</param>
    public static HookedTransformer LoadModel(string model, bool rawWeights, Action<TokenizerLoadResult>? beforeWeights = null)
    {
        var options = new LoadOptions
        {
            Processing = rawWeights ? WeightProcessingOptions.None : WeightProcessingOptions.Default,
            Warn = message => Err.MarkupLine($"[yellow]warning:[/] {Markup.Escape(message)}"),
            ResolveHubId = HubDownload.Resolve,
            BeforeWeights = beforeWeights,
        };
        return ModelLoader.Load(model, options);
    }

    /// <summary>Loads the model of a command that takes --prompt or --tokens: the prompt text is tokenized with the
    /// folder's tokenizer before the weights are read (a missing tokenizer is one line that says to use --tokens).</summary>
    /// <param name="model">A model folder or hub id.</param>
    /// <param name="rawWeights">Skip TransformerLens' weight processing.</param>
    /// <param name="prompt">The --prompt text, or null when <paramref name="ids"/> are given.</param>
    /// <param name="ids">The --tokens ids, used exactly as given; null for a text prompt.</param>
    public static (HookedTransformer Model, int[] Ids) LoadModelForPrompt(string model, bool rawWeights, string? prompt, int[]? ids)
    {
        var lm = LoadModel(model, rawWeights, tok => { if (prompt is not null) ids = tok.Require("--prompt").ToTokens(prompt); });
        return (lm, ids!);
    }

    /// <summary>Parses "50256,1135,821" into ids.</summary>
    public static int[] ParseIds(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(s => int.TryParse(s, out int id) ? id : throw new InvalidInputException($"'{s}' is not a token id: --tokens takes comma-separated integers"))
        .ToArray();

    /// <summary>Reads a tokens file: [[ids...], ...] or a single [ids...].</summary>
    public static int[][] ReadTokensFile(string path)
    {
        string text = InputFiles.ReadText(path, "tokens file", "pass a JSON file holding [[ids...], ...]");
        try
        {
            using var doc = JsonDocument.Parse(text, InputFiles.DocumentOptions());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
                throw new InvalidInputException($"tokens file {path} must hold a non-empty JSON array [[ids...], ...]");
            var rows = root[0].ValueKind == JsonValueKind.Number ? [root.EnumerateArray().Select(e => e.GetInt32()).ToArray()]
                : root.EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
            int empty = Array.FindIndex(rows, r => r.Length == 0);
            return empty < 0 ? rows : throw new InvalidInputException($"tokens file {path}: sequence {empty} is empty: every sequence needs at least one token id");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidInputException($"tokens file {path} is not [[ids...], ...] of integers: {e.Message.Split('\n')[0]}");
        }
    }

    /// <summary>Refuses token ids of a --tokens-file that the model has no embedding for, naming the file.</summary>
    public static void RequireVocabulary(IEnumerable<int[]> sequences, HookedTransformer model, string file)
    {
        foreach (var id in sequences.SelectMany(s => s))
            if ((uint)id >= (uint)model.Config.DVocab)
                throw new InvalidInputException($"tokens file {file}: token id {id} is outside the model's vocabulary (0..{model.Config.DVocab - 1})");
    }

    /// <summary>Writes a file via a temporary sibling and a rename, so a failure leaves no half-written output.</summary>
    public static void WriteAtomic(string path, string contents)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp";
        try
        {
            File.WriteAllText(tmp, contents);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            // a failed write (a full disk) leaves no half-written file behind
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; a progress bar must update in order, on the reporting thread.</summary>
    public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>
    /// How result and --json output is written: indented, and with the relaxed encoder so that tokens stay readable
    /// (' and &lt; as themselves, not \u0027 and \u003C). Never embed this output in HTML without escaping it.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
