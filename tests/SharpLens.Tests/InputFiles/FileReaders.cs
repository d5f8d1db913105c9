using System.Text;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Inputs;
using SharpLens.Circuits;
using SharpLens.Loading;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Reports;
using SharpLens.Studies;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.InputFiles;

/// <summary>
/// One reader of a file users hand to SharpLens: how to make a valid file, and the library call or command line that
/// reads it. <see cref="InputFileFuzzTests"/> runs every row on hundreds of damaged variants of the valid file.
/// </summary>
/// <param name="Name">the row's name in test output ("results.json: study verify").</param>
/// <param name="Format">decides the mutations and which of them must be refused.</param>
/// <param name="FileName">the file's name inside the row's scratch folder (readers look at extensions and neighbours).</param>
/// <param name="Valid">writes what the file needs beside it into the scratch folder and returns the valid file's bytes.</param>
/// <param name="Read">reads the file at the given path (library rows); null for command-line rows.</param>
/// <param name="Command">the command line for (file path, output path) (command-line rows); null for library rows.</param>
public sealed record FileReader(string Name, FileFormat Format, string FileName, Func<string, byte[]> Valid,
    Action<string>? Read = null, Func<string, string, string[]>? Command = null)
{
    /// <summary>How many mutations the row gets (command lines that load a model cost more than a library call).</summary>
    public int Mutations { get; init; } = 240;

    /// <summary>The reader also takes a folder of such files (a corpus), so a folder in its place need not be refused.</summary>
    public bool FolderIsValid { get; init; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// THE TABLE OF READERS. Every file SharpLens reads has a row here; a new reader (a config.json of a new model family, a
/// tokenizer.json, a training config or checkpoint) is one more row: a name, the format, a valid file and the call or
/// command line that reads it. The fuzz suite then holds it to the rule for input files: a damaged file is one line on
/// stderr naming the file (and the field), exit 2, no stack trace, nothing written.
/// </summary>
public static class FileReaders
{
    private static readonly string TinyB = Fixtures.Folder("tiny-b");

    /// <summary>Every row, by name.</summary>
    public static readonly IReadOnlyList<FileReader> All =
    [
        // Analysis inputs (attribute, patch, circuit, path-patch --input).
        new("input.json: attribute --input", FileFormat.Json, "input.json", _ => Encoding.UTF8.GetBytes(Artifacts.InputJson),
            Command: (file, output) => ["attribute", "--model", TinyB, "--input", file, "--json", output]) { Mutations = 160 },
        new("input.json: AnalysisInput.Load", FileFormat.Json, "input.json", _ => Encoding.UTF8.GetBytes(Artifacts.InputJson),
            Read: file => AnalysisInput.Load(file, Artifacts.TinyModel)),

        // Study files, JSON and YAML (study validate / run).
        new("study file (JSON): study validate", FileFormat.Json, "study.json", _ => Encoding.UTF8.GetBytes(Studies.StudyFileTests.TinyJson),
            Command: (file, _) => ["study", "validate", file]),
        new("study file (YAML): study validate", FileFormat.Text, "study.yaml", _ => Encoding.UTF8.GetBytes(Studies.StudyFileTests.TinyYaml),
            Command: (file, _) => ["study", "validate", file]),

        // A study run's results.json and a verify reference.
        new("results.json: study verify", FileFormat.Json, "results.json", _ => File.ReadAllBytes(Artifacts.Study.Results),
            Command: (file, _) => ["study", "verify", file, "--reference", Artifacts.Study.Reference]),
        new("results.json: study reference", FileFormat.Json, "results.json", _ => File.ReadAllBytes(Artifacts.Study.Results),
            Command: (file, output) => ["study", "reference", file, "--out", output]) { Mutations = 120 },
        new("reference: study verify --reference", FileFormat.Json, "reference.json", _ => File.ReadAllBytes(Artifacts.Study.Reference),
            Command: (file, _) => ["study", "verify", Artifacts.Study.Results, "--reference", file]),

        // Circuits (EAP-IG graph JSON).
        new("circuit JSON: circuit evaluate", FileFormat.Json, "circuit.json", _ => File.ReadAllBytes(Path.Combine(Fixtures.Folder("eap-ig"), "eap-ig-current.json")),
            Command: (file, output) => ["circuit", "evaluate", file, "--model", TinyB, "--input", Artifacts.InputFile, "--json", output]) { Mutations = 160 },

        // Saved results read by plot and compare.
        new("result JSON: plot", FileFormat.Json, "patch.json", _ => File.ReadAllBytes(Artifacts.PatchResult),
            Command: (file, output) => ["plot", file, "--out", output]) { Mutations = 100 },
        new("result JSON: GridPlotter.BuildReport", FileFormat.Json, "patch.json", _ => File.ReadAllBytes(Artifacts.PatchResult),
            Read: file => GridPlotter.FromResultJson(file, Path.Combine(Path.GetDirectoryName(file)!, "never-written"), staticImages: false)),
        new("result JSON: compare", FileFormat.Json, "dla.json", _ => File.ReadAllBytes(Artifacts.AttributeResult),
            Command: (file, _) => ["compare", file, Artifacts.AttributeResult, "--key", "heads", "--permutations", "50"]),

        // Token id files (predict/activations --tokens-file).
        new("tokens file: predict --tokens-file", FileFormat.Json, "tokens.json", _ => "[[119, 5, 6, 7, 8]]"u8.ToArray(),
            Command: (file, _) => ["predict", "--model", TinyB, "--tokens-file", file]) { Mutations = 120 },

        // Models: config.json and the safetensors checkpoint (ModelLoader reads both).
        new("config.json: ModelLoader.Load", FileFormat.Json, "config.json", ModelFolder(File.ReadAllBytes(Path.Combine(TinyB, "config.json"))),
            Read: file => ModelLoader.Load(Path.GetDirectoryName(file)!)),
        new("model.safetensors: ModelLoader.Load", FileFormat.Binary, "model.safetensors", dir =>
        {
            File.Copy(Path.Combine(TinyB, "config.json"), Path.Combine(dir, "config.json"), overwrite: true);
            return File.ReadAllBytes(Path.Combine(TinyB, "model.safetensors"));
        }, Read: file => ModelLoader.Load(Path.GetDirectoryName(file)!)) { Mutations = 120 },

        // Other families' config.json (each family has its own reader) and a sharded checkpoint's index.
        new("config.json (llama): ModelLoader.Load", FileFormat.Json, "config.json", FixtureFile("llama3", "config.json"),
            Read: file => ModelLoader.Load(Path.GetDirectoryName(file)!)) { Mutations = 120 },
        new("config.json (qwen3): ModelLoader.Load", FileFormat.Json, "config.json", FixtureFile("qwen3", "config.json"),
            Read: file => ModelLoader.Load(Path.GetDirectoryName(file)!)) { Mutations = 120 },
        new("config.json (gpt_neox): ModelLoader.Load", FileFormat.Json, "config.json", FixtureFile("neox-parallel", "config.json"),
            Read: file => ModelLoader.Load(Path.GetDirectoryName(file)!)) { Mutations = 120 },
        new("model.safetensors.index.json: ModelLoader.Load", FileFormat.Json, "model.safetensors.index.json", FixtureFile("llama2", "model.safetensors.index.json"),
            Read: file => ModelLoader.Load(Path.GetDirectoryName(file)!)) { Mutations = 120 },

        // Tokenizers (TokenizerLoader.Load reads a model folder's tokenizer.json or tokenizer.model with tokenizer_config.json).
        new("tokenizer.json: TokenizerLoader.Load", FileFormat.Json, "tokenizer.json", TokenizerFolder("bpe-llama3", "tokenizer.json", "tokenizer_config.json"),
            Read: ReadTokenizer) { Mutations = 200 },
        new("tokenizer_config.json: TokenizerLoader.Load", FileFormat.Json, "tokenizer_config.json", TokenizerFolder("bpe-qwen2", "tokenizer_config.json", "tokenizer.json"),
            Read: ReadTokenizer) { Mutations = 160 },
        new("tokenizer.model: TokenizerLoader.Load", FileFormat.Binary, "tokenizer.model", TokenizerFolder("spm-llama", "tokenizer.model", "tokenizer_config.json"),
            Read: ReadTokenizer) { Mutations = 160 },

        // Neuron indexes (SQLite).
        new("neuron index: NeuronIndex reads", FileFormat.Binary, "neurons.db", _ => File.ReadAllBytes(Artifacts.NeuronDb),
            Read: ReadWholeIndex) { Mutations = 200 },
        new("neuron index: neurons show", FileFormat.Binary, "neurons.db", _ => File.ReadAllBytes(Artifacts.NeuronDb),
            Command: (file, output) => ["neurons", "show", "L0N1", "L1", "--db", file, "--out", output]) { Mutations = 60 },

        // Corpora.
        new("corpus (JSON Lines): Corpus.Documents", FileFormat.JsonLines, "corpus.jsonl", _ => File.ReadAllBytes(Path.Combine(Artifacts.Corpus, "a.jsonl")),
            Read: file => Corpus.Open(file).Documents().ToList()) { FolderIsValid = true },
        new("corpus (text): Corpus.Documents", FileFormat.Text, "corpus.txt", _ => File.ReadAllBytes(Path.Combine(Artifacts.Corpus, "b.txt")),
            Read: file => Corpus.Open(file).Documents().ToList()) { Mutations = 60, FolderIsValid = true },
        new("corpus (Brown): Corpus.Documents", FileFormat.Text, "ca01", _ => Encoding.UTF8.GetBytes(Artifacts.BrownSample),
            Read: file => Corpus.Open(Path.GetDirectoryName(file)!, CorpusFormat.Brown).Documents().ToList()) { Mutations = 60 },

        // Template specs (study generate).
        new("template spec: study generate", FileFormat.Json, "templates.json", _ => File.ReadAllBytes(Artifacts.TemplateSpec),
            Command: (file, output) => ["study", "generate", file, "--out", output, "--min-pairs", "1"]) { Mutations = 120 },

        // The run index reads every report folder's report.json (a damaged one must not stop the index).
        new("report.json: index", FileFormat.Json, Path.Combine("run", RunManifest.FileName), dir =>
        {
            Directory.CreateDirectory(Path.Combine(dir, "run"));
            File.WriteAllText(Path.Combine(dir, "run", "index.html"), "<html></html>");
            return Encoding.UTF8.GetBytes(new RunManifest("patch", "A run", "index.html") { Model = "tiny-b" }.ToJson().ToJsonString());
        }, Read: file => RunIndex.Write(Path.GetDirectoryName(Path.GetDirectoryName(file)!)!, warn: m => throw new InvalidInputException(m))),
    ];

    /// <summary>The rows' names (xunit theory data).</summary>
    public static IEnumerable<object[]> Names => All.Select(r => new object[] { r.Name });

    private static Func<string, byte[]> ModelFolder(byte[] config) => dir =>
    {
        File.Copy(Path.Combine(TinyB, "model.safetensors"), Path.Combine(dir, "model.safetensors"), overwrite: true);
        return config;
    };

    // A model fixture's file, with the rest of its folder (config, checkpoint shards; not the goldens) copied beside it.
    private static Func<string, byte[]> FixtureFile(string fixture, string file) => dir =>
    {
        string from = Fixtures.Folder(fixture);
        foreach (var other in Directory.GetFiles(from).Select(Path.GetFileName).OfType<string>())
            if (other != file && !other.StartsWith("golden", StringComparison.Ordinal) && other != "tokens.json")
                File.Copy(Path.Combine(from, other), Path.Combine(dir, other), overwrite: true);
        return File.ReadAllBytes(Path.Combine(from, file));
    };

    // A tokenizer fixture's file, with the files read beside it copied into the scratch folder.
    private static Func<string, byte[]> TokenizerFolder(string fixture, string file, params string[] beside) => dir =>
    {
        string from = Path.Combine(Fixtures.Folder("tokenizers"), fixture);
        foreach (var name in beside) File.Copy(Path.Combine(from, name), Path.Combine(dir, name), overwrite: true);
        return File.ReadAllBytes(Path.Combine(from, file));
    };

    // Loads the folder's tokenizer and runs it both ways on text with spaces, digits, punctuation and non-ASCII letters.
    private static void ReadTokenizer(string file)
    {
        var tokenizer = TokenizerLoader.Load(Path.GetDirectoryName(file)!).Require("the fuzz test");
        var ids = tokenizer.ToTokens("Hello, world: 12 cafés\nnaïve  text");
        tokenizer.ToStrTokens(ids);
        tokenizer.ToString(ids);
    }

    // Everything the neuron pages and search read: provenance, every neuron of every layer, layer summaries and maxima,
    // the vocabulary, and a token search.
    private static void ReadWholeIndex(string file)
    {
        using var index = NeuronIndex.Open(file);
        for (int layer = 0; layer < 2; layer++)
        {
            index.RequireNeuron(new NeuronId(layer, 0));
            foreach (var summary in index.GetLayer(layer)) index.GetNeuron(layer, summary.Neuron);
            index.LayerMax(layer);
        }
        index.SearchTokens([0, 1, 2, 262]);
        index.TokenText(262);
    }
}
