using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Neurons;
using SharpLens.Studies;
using SharpLens.Studies.Verify;
using SharpLens.Studies.Templates;
using SharpLens.Tokenization;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens study</c>: run a whole study file (studies/contractions.json) end to end, validate one, and verify a run
/// against a reference (see studies/README.md).
/// </summary>
internal static class StudyCommand
{
    public static Command Create() => new("study", "Run, validate and verify multi-group studies (every figure of a notebook in one command)")
    {
        RunCommand(), ValidateCommand(), VerifyCommand(), ReferenceCommand(), GenerateCommand(),
    };

    private static Command RunCommand()
    {
        var study = new Argument<string>("study") { Description = "Study file (JSON or YAML), e.g. studies/contractions.json" };
        var model = new Option<string?>("--model", "-m") { Description = "Model folder or Hugging Face id such as gpt2" };
        var outDir = OutputPaths.Folder(new Option<string>("--out", "-o") { Description = "Output folder: results.json, index.html, figures/", Required = true });
        var force = new Option<bool>("--force") { Description = "Recompute every analysis, even those already in DIR/results.json" };
        var method = new Option<string>("--method") { Description = "Patching method: exact (fast, same numbers) or plain (one hooked forward per patch)", DefaultValueFactory = _ => "exact" };
        method.AcceptOnlyFromAmong("exact", "plain");
        var staticImages = new Option<bool>("--static-images") { Description = "Also write PNG and SVG of every figure (slower)" };
        var raw = Cli.RawWeightsOption();
        var random = new Option<bool>("--random-weights") { Description = "Run on random weights shaped like GPT-2 small (no download; the numbers are meaningless, the report and timings are real)" };
        var neuronsDb = NeuronsDb.Option("link every neuron the report names to its page (written into --out/neurons)");
        var command = new Command("run", "Run every analysis of every group of a study; resumable") { study, model, outDir, force, method, staticImages, raw, random, neuronsDb };
        command.SetAction(parse =>
        {
            var s = StudyFile.Load(parse.GetValue(study)!);
            bool useRandom = parse.GetValue(random);
            string? modelName = parse.GetValue(model);
            if (!useRandom && modelName is null) throw new InvalidInputException("--model is required: pass a model folder or a Hugging Face id such as gpt2, or --random-weights to try the study without weights");
            if (useRandom && modelName is not null)
                throw new InvalidInputException($"--random-weights runs random weights shaped like GPT-2 small instead of a model: give --model {modelName} or --random-weights, not both");
            if (useRandom && parse.GetValue(raw))
                throw new InvalidInputException("--raw-weights applies to a loaded model's weights, and --random-weights loads none: leave one of them out");
            using var neuronIndex = NeuronsDb.Open(parse.GetValue(neuronsDb), s.Groups.SelectMany(g => g.Neurons).Select(NeuronId.Parse));
            // Answers that are not single tokens under the model's tokenizer stop the run before the weights load.
            var lm = useRandom ? RandomWeights.CreateModel(ModelConfig.Gpt2Small, tokenizer: new Gpt2Tokenizer()) : LoadOrSuggestRandom(modelName!, parse.GetValue(raw), s);
            neuronIndex?.RequireModel(lm);
            var options = new StudyRunOptions
            {
                NeuronIndex = neuronIndex,
                OutDir = parse.GetValue(outDir)!, Force = parse.GetValue(force), StaticImages = parse.GetValue(staticImages),
                Method = parse.GetValue(method) == "plain" ? PatchingMethod.Plain : PatchingMethod.Exact,
                ModelName = useRandom ? "random-gpt2-small" : modelName!,
            };
            StudyRunSummary? summary = null;
            Cli.Err.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(s.Name), maxValue: 1);
                    var runner = InputFiles.About(parse.GetValue(study)!, () => new StudyRunner(lm, s, options with
                    {
                        // The bar shows the estimated work done, not the steps done: steps differ in size a hundredfold.
                        Progress = new Cli.SyncProgress<StudyProgress>(p =>
                        {
                            task.MaxValue = Math.Max(p.Total, double.Epsilon);
                            task.Value = p.Done;
                            task.Description = Markup.Escape($"{p.Name}{(p.Skipped ? " (done before)" : "")}, step {p.Step + 1} of {p.Steps}");
                        }),
                    }));
                    summary = runner.Run();
                    task.Value = task.MaxValue;
                });
            Cli.Err.MarkupLine(Markup.Escape($"{summary!.Ran} analyses run, {summary.Skipped} already done, {summary.Elapsed.TotalSeconds:F1} s, peak memory {PeakMemory.Format(summary.PeakMemoryBytes)}; results {summary.ResultsPath}" +
                (summary.ReportPath is null ? "" : $"; report {summary.ReportPath}")));
            return 0;
        });
        return command;
    }

    /// <summary>Loads the study's model; when it cannot be found or fetched, also says that --random-weights runs without it.</summary>
    private static HookedTransformer LoadOrSuggestRandom(string modelName, bool rawWeights, Study study)
    {
        try { return Cli.LoadModel(modelName, rawWeights, tok => { if (tok.Tokenizer is { } t) StudyValidation.CheckAnswersAreSingleTokens(study, t); }); }
        catch (ModelNotFoundException e)
        {
            throw new ModelNotFoundException($"{e.Message.TrimEnd('.')}; or add --random-weights to run the study on random weights shaped like GPT-2 small", e);
        }
    }

    private static Command ValidateCommand()
    {
        var study = new Argument<string>("study") { Description = "Study file (JSON or YAML)" };
        var model = new Option<string?>("--model", "-m") { Description = "Validate against this model (default: GPT-2 small's tokenizer and shape, no weights needed)" };
        var command = new Command("validate", "Check a study file (single-token answers, aligned pairs, known analyses, layers) without running it") { study, model };
        command.SetAction(parse =>
        {
            var s = StudyFile.Load(parse.GetValue(study)!);
            var target = parse.GetValue(model) is string m ? StudyTarget.For(Cli.LoadModel(m, false)) : StudyTarget.Gpt2Small;
            var groups = InputFiles.About(parse.GetValue(study)!, () => StudyValidation.Resolve(s, target));
            Console.WriteLine($"{s.Name}: {groups.Count} groups, {groups.Sum(g => g.Clean.Batch)} prompts, {groups.Sum(g => g.Group.Analyses.Count)} analyses: valid");
            return 0;
        });
        return command;
    }

    private static Command VerifyCommand()
    {
        var dir = new Argument<string>("dir") { Description = "Output folder of `sharplens study run` (or its results.json)" };
        var reference = new Option<string>("--reference", "-r") { Description = "Reference values in the notebook JSON format (groups, notebook_printed, figures)", Required = true };
        var atol = new Option<double?>("--atol") { Description = "Override every figure's absolute tolerance (default 1e-3; see studies/README.md)" };
        var rtol = new Option<double?>("--rtol") { Description = "Override every figure's relative tolerance, a fraction of its largest |reference| (default 1e-3)" };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Do not fail on reference figures or printed numbers the run did not compute (a partial run)" };
        var json = new Option<bool>("--json") { Description = "Print the comparison as JSON" };
        var command = new Command("verify", "Compare a run with a reference (structure, every value, every claim); exit 1 when anything differs") { dir, reference, atol, rtol, allowMissing, json };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(dir)!;
            if (Directory.Exists(path)) path = Path.Combine(path, "results.json");
            var results = StudyResults.Load(path);
            string refPath = parse.GetValue(reference)!;
            var refJson = InputFiles.ReadJson(refPath, "reference file", "pass a reference in the notebook JSON format, e.g. one written by `sharplens study reference`") as JsonObject
                ?? throw new InvalidInputException($"reference file '{refPath}' holds no JSON object: expected the notebook JSON format {{\"figures\": [...]}}");
            double? a = parse.GetValue(atol), r = parse.GetValue(rtol);
            if (a is < 0 || r is < 0) throw new InvalidInputException("--atol and --rtol must be >= 0");
            var overrideTol = a is null && r is null ? null
                : new VerifyTolerance(a ?? VerifyTolerance.Default.Atol, r ?? VerifyTolerance.Default.Rtol, "set on the command line");
            // Both files were parsed and their fields are checked as they are compared; a structure the comparison did not
            // expect anywhere is still one line naming them.
            var rows = InputFiles.Interpret($"results file '{path}' or reference file '{refPath}'", () => StudyVerify.Compare(results, refJson, overrideTol, $"reference file '{refPath}'"));
            bool allow = parse.GetValue(allowMissing);
            bool failed = rows.Any(x => x.Failed(allow));
            if (parse.GetValue(json))
                Console.WriteLine(new JsonObject
                {
                    ["passed"] = !failed, ["allow_missing"] = allow, ["tolerance_override"] = overrideTol?.ToString(),
                    ["checks"] = new JsonArray(rows.Select(x => (JsonNode?)new JsonObject
                    {
                        ["group"] = x.Group, ["title"] = x.Title, ["source"] = x.Source, ["status"] = x.Status, ["failed"] = x.Failed(allow),
                        ["detail"] = x.Detail, ["cell"] = x.Cell, ["deviation"] = x.Deviation is double d && double.IsFinite(d) ? d : null,
                        ["allowed"] = x.Allowed, ["tolerance"] = x.Tolerance?.ToString(), ["tolerance_reason"] = x.Tolerance?.Reason,
                    }).ToArray()),
                }.ToJsonString(Cli.Json));
            else
            {
                foreach (var x in rows)
                    Console.WriteLine($"{(x.Failed(allow) ? "FAIL" : x.Status is "missing" or "no mapping" ? "skip" : "ok  ")} {x.Group,-8} {x.Title}: {x.Status}; {x.Detail}");
                Console.WriteLine($"{rows.Count} checks: {rows.Count(x => x.Status is "ok" or "held")} ok, {rows.Count(x => x.Status == "exceeds")} beyond tolerance, " +
                    $"{rows.Count(x => x.Status == "structure")} structure, {rows.Count(x => x.Status == "not held")} claims not held, " +
                    $"{rows.Count(x => x.Status is "missing" or "no mapping")} missing{(allow ? " (allowed)" : "")}" +
                    $"{(overrideTol is null ? "" : $"; tolerance {overrideTol} set on the command line")}: {(failed ? "FAILED" : "passed")}");
            }
            return failed ? 1 : 0;
        });
        return command;
    }

    private static Command ReferenceCommand()
    {
        var dir = new Argument<string>("dir") { Description = "Output folder of `sharplens study run`" };
        var outFile = OutputPaths.File(new Option<string>("--out", "-o") { Description = "Where to write the reference JSON", Required = true });
        var command = new Command("reference", "Write a run's figure values as a reference file (notebook format) for `study verify`") { dir, outFile };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(dir)!;
            if (Directory.Exists(path)) path = Path.Combine(path, "results.json");
            var results = StudyResults.Load(path);
            var reference = InputFiles.Interpret($"results file '{path}'", () => StudyVerify.ToReference(results));
            Cli.WriteAtomic(parse.GetValue(outFile)!, reference.ToJsonString(Cli.Json));
            Cli.Err.MarkupLine(Markup.Escape($"{((JsonArray)reference["figures"]!).Count} figures written to {parse.GetValue(outFile)}"));
            return 0;
        });
        return command;
    }

    private static Command GenerateCommand()
    {
        var templates = new Argument<string>("templates") { Description = "Template spec (JSON), e.g. studies/templates/contractions-templates.json" };
        var outFile = OutputPaths.File(new Option<string>("--out", "-o") { Description = "Where to write the generated study file (JSON)", Required = true });
        var model = new Option<string?>("--model", "-m") { Description = "Drop prompts this model gets wrong (logit difference <= 0 on the clean prompt)" };
        var minPairs = new Option<int>("--min-pairs") { Description = "Drop groups with fewer valid prompt pairs", DefaultValueFactory = _ => 4 };
        var maxPairs = new Option<int>("--max-pairs") { Description = "At most this many prompt pairs per group", DefaultValueFactory = _ => 8 };
        var analyses = new Option<string[]>("--analyses") { Description = "Analyses of every group (default: the spec's)", AllowMultipleArgumentsPerToken = true };
        var command = new Command("generate", "Generate a study from a template spec: one group per contraction x second pronoun, checked and filtered")
            { templates, outFile, model, minPairs, maxPairs, analyses };
        command.SetAction(parse =>
        {
            var spec = TemplateSpec.Load(parse.GetValue(templates)!);
            // Without --model the templates are checked against GPT-2's bundled tokenizer.
            Tokenizer tokenizer = new Gpt2Tokenizer();
            PromptScorer? scorer = null;
            if (parse.GetValue(model) is string m)
            {
                var lm = Cli.LoadModel(m, false, tok => tokenizer = tok.Require("the templates' text"));
                scorer = StudyGenerator.ModelScorer(lm, spec.PrependBos);
            }
            var list = parse.GetValue(analyses);
            string specPath = parse.GetValue(templates)!;
            var result = InputFiles.About(specPath, () => StudyGenerator.Generate(spec, tokenizer, new GenerateOptions
            {
                MinPairs = parse.GetValue(minPairs), MaxPairs = parse.GetValue(maxPairs), Scorer = scorer,
                Analyses = list is { Length: > 0 } ? list.SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList() : null,
            }));
            var table = new Table().AddColumns("group", "status", "pairs", "candidates", "tokens", "dropped prompts", "reason");
            foreach (var g in result.Groups)
            {
                var drops = result.Dropped.Where(d => d.Group == g.Name).GroupBy(d => d.Kind).Select(k => $"{k.Count()} {k.Key.Replace('_', ' ')}");
                table.AddRow(Markup.Escape(g.Name), g.Kept ? "[green]kept[/]" : "[red]dropped[/]", g.Pairs.ToString(), g.Candidates.ToString(),
                    g.Tokens.ToString(), Markup.Escape(string.Join(", ", drops)), Markup.Escape(g.Reason ?? ""));
            }
            Cli.Err.Write(table);
            foreach (var group in result.Dropped.GroupBy(d => d.Group))
            {
                foreach (var d in group.Take(5)) Cli.Err.MarkupLine(Markup.Escape($"  {d.Group}: {d.Prompt} -- {d.Reason}"));
                if (group.Count() > 5) Cli.Err.MarkupLine(Markup.Escape($"  {group.Key}: ... {group.Count() - 5} more"));
            }
            foreach (var note in result.Notes) Cli.Err.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
            if (result.Study is null)
                throw new InvalidInputException($"{specPath}: no group has {parse.GetValue(minPairs)} valid pairs: nothing written (lower --min-pairs or add fillers)");
            InputFiles.About(specPath, () => StudyValidation.Resolve(result.Study, StudyTarget.Gpt2Small));
            Cli.WriteAtomic(parse.GetValue(outFile)!, result.ToJsonString());
            int kept = result.Groups.Count(g => g.Kept);
            Console.WriteLine($"{result.Study.Name}: {kept} of {result.Groups.Count} groups kept, {result.Study.Groups.Sum(g => g.Prompts.Count)} prompts, " +
                $"{result.Dropped.Count} prompts dropped; written to {parse.GetValue(outFile)}");
            return 0;
        });
        return command;
    }
}
