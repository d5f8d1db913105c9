#:project ../src/SharpLens.Reports/SharpLens.Reports.csproj
#:property Configuration=Release
// A Neuroscope-style neuron index from code: run the model over a corpus and keep, for every MLP neuron, its top
// windows and activation statistics in SQLite; then read neurons the way the study read L8N2744 (its top examples with
// each token's activation, its statistics, the tokens its output weight promotes), find neurons by token and by prompt,
// and write their pages next to a report.
//
//   dotnet run examples/neuron-index.cs [-- MODEL OUT [CORPUS]]     (MODEL defaults to $SHARPLENS_MODEL or gpt2;
//   CORPUS: a text file, a folder of them, JSON Lines with a "text" field, or the Brown corpus folder; by default a
//   small corpus written into OUT)
using SharpLens.Loading;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Search;
using SharpLens.Reports;
using SharpLens.Reports.Neurons;

string modelName = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("SHARPLENS_MODEL") ?? "gpt2";
string outDir = args.Length > 1 ? args[1] : "reports/examples/neuron-index";
Directory.CreateDirectory(outDir);
string corpusPath = args.Length > 2 ? args[2] : Path.Combine(outDir, "corpus.txt");
if (args.Length <= 2)
{
    string[] sentences =
    [
        "We're helping our friend while they're away.", "We are helping our friend while they are away.",
        "She's at home studying while they're out.", "He is reading while we are cooking dinner.",
        "They're late again, and we're still waiting for them.", "You are right: they are not coming today.",
    ];
    File.WriteAllText(corpusPath, string.Join("\n", Enumerable.Range(0, 40).Select(i => sentences[i % sentences.Length])));
}

var model = ModelLoader.Load(modelName);

// [1] The index: every layer's mlp.hook_post over BOS-prefixed windows of the corpus (resumable: an interrupted run
// continues where it stopped). A fresh file here, so that the example always shows a whole build.
string db = Path.Combine(outDir, "neurons.db");
File.Delete(db);
var built = NeuronIndexBuilder.Build(model, Corpus.Open(corpusPath), db, new IndexOptions { Context = 32, TopK = 5 });
Console.WriteLine($"[1] indexed {built.WindowsDone} windows, {built.TokensDone} tokens, layers {string.Join(",", built.Layers)} into {db}");

using var index = NeuronIndex.Open(db);
index.RequireModel(model);   // an index built from other weights is refused

// [2] The strongest neuron of the last layer, as its Neuroscope page shows it.
int last = built.Layers[^1];
var strongest = index.GetLayer(last).OrderByDescending(n => n.Max).First();
var record = index.GetNeuron(last, strongest.Neuron);
var stats = record.Statistics;
Console.WriteLine($"[2] {record.Id}: max {stats.Max:F4}, mean {stats.Mean:F4}, std {stats.Std:F4}, positive on {stats.FractionPositive:P1} of {stats.Count} tokens");
foreach (var example in record.TopExamples.Take(3))
{
    // The window's text with the activation of every token, as the page shades it.
    var shaded = example.Tokens.Zip(example.Activations).Skip(1).Select(t => $"{t.First.Replace("\n", "\\n")}({t.Second:F2})");
    Console.WriteLine($"    #{example.Rank} {example.Activation:F4} at |{example.Tokens[example.Position]}| in {example.DocumentName}: {string.Join("", shaded)}");
}
Console.WriteLine($"    promotes {string.Join(", ", record.Promoted.Take(5).Select(e => $"|{e.Token}|"))}");

// [3] Which neurons fire most on a token, and on a prompt?
var byToken = NeuronSearch.ByToken(index, " they", limit: 5);
Console.WriteLine($"[3] on | they|: {string.Join(", ", byToken.Select(h => $"{h.Id} {h.Activation:F3}"))}");
var prompt = model.RequireTokenizer().ToTokens("We're helping our friend while they", prependBos: true);
var byPrompt = NeuronSearch.ByPrompt(model, index, prompt, limit: 5);
Console.WriteLine($"    on the prompt: {string.Join(", ", byPrompt.Select(h => $"{h.Id} {h.Activation:F3} at |{h.Token}| ({h.RelativeToMax:P0} of its max)"))}");

// [4] Pages for those neurons and the last layer, and a report that links to them.
var pages = NeuronPages.Write(index, Path.Combine(outDir, "neurons"), byPrompt.Select(h => h.Id).Append(record.Id), layers: [last], topPerLayer: 5);
Console.WriteLine($"[4] {pages.Count} neuron pages in {Path.Combine(outDir, "neurons")}");
var report = new Report("Neurons most active on the prompt") { Model = modelName, StaticImages = false };
report.AddFigure(new BarFigure(byPrompt.Select(h => h.Id.ToString()).ToArray(), byPrompt.Select(h => h.Activation).ToArray())
{
    Title = "Max activation on \"We're helping our friend while they\" (pages in neurons/)",
});
Console.WriteLine($"report: {report.Write(outDir)}");
