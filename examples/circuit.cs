#:project ../src/SharpLens.Reports/SharpLens.Reports.csproj
#:property Configuration=Release
// A circuit for one pairing ("We're" vs "We are"): score every edge of the EAP-IG graph with EAP-IG, grow circuits
// greedily from the logits, measure how faithful each size is with exact edge patching, and save the smallest
// circuit that recovers most of the behaviour as EAP-IG graph JSON.
//
//   dotnet run examples/circuit.cs [-- MODEL OUT]     (MODEL defaults to $SHARPLENS_MODEL or gpt2)
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Loading;
using SharpLens.Reports;

string modelName = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("SHARPLENS_MODEL") ?? "gpt2";
string outDir = args.Length > 1 ? args[1] : "reports/examples/circuit";

var model = ModelLoader.Load(modelName);
var tok = model.RequireTokenizer();
// Three swapped pairs: each prompt's corrupted version is its partner. A faithfulness interval needs more than one pair.
string[] prompts = ["We're helping our friend when they", "We are helping our friend when they",
                    "They're eating dinner together while they", "They are eating dinner together while they",
                    "We're visiting our parents when they", "We are visiting our parents when they"];
var clean = tok.ToTokens(prompts);
var corrupted = tok.ToTokens(prompts.Select((_, i) => prompts[i ^ 1]).ToArray());
int re = tok.ToSingleToken("'re"), are = tok.ToSingleToken(" are");
var metric = new LogitDiffMetric(prompts.Select((_, i) => i % 2 == 0 ? (re, are) : (are, re)).ToArray());

// [1] The graph and EAP-IG scores of every edge (first-order estimates of each edge's effect on the logit difference)
var scores = EdgeAttribution.EapIg(model, clean, corrupted, metric, steps: 5);
Console.WriteLine($"[1] {scores.Graph.Edges.Count} edges scored with {scores.Method}; the strongest:");
foreach (var (edge, score) in scores.Top(8)) Console.WriteLine($"    {edge.Name,-24} {score,9:F4}");

// [2] Faithfulness of greedy circuits of growing size up to the full graph, by exact edge patching (1 = the clean
// behaviour, 0 = corrupted). It divides by clean − corrupted: when that gap's CI includes 0, it is "undecided".
var evaluator = new CircuitEvaluator(model, new PatchingInputs(clean, corrupted, metric));
int[] sizes = CircuitDiscovery.LogSizes(5, scores.Graph.Edges.Count, 10);
var curve = evaluator.Curve(scores, sizes, (s, n) => Circuit.Greedy(s, n), resamples: 200);
Console.WriteLine($"[2] clean {evaluator.CleanPerPrompt.Average():F4}, corrupted {evaluator.CorruptedPerPrompt.Average():F4}, gap {evaluator.Gap().Interval}");
for (int i = 0; i < curve.Count; i++)
    Console.WriteLine($"    greedy {sizes[i],5}: {curve[i].Edges,5} edges after pruning: faithfulness {CircuitReport.Format(curve[i])}");

// [3] The smallest circuit that recovers 80% (or the largest tried), its nodes, and its EAP-IG JSON
int chosen = Array.FindIndex(curve.ToArray(), p => p.IsMeasured && p.Faithfulness >= 0.8f);
if (chosen < 0) chosen = curve.Count - 1;
var circuit = Circuit.Greedy(scores, sizes[chosen]);
Console.WriteLine($"[3] circuit of {circuit.EdgeCount} edges (faithfulness {CircuitReport.Format(curve[chosen])}), nodes: {string.Join(", ", circuit.Nodes.Order())}");
Directory.CreateDirectory(outDir);
CircuitJson.Write(circuit, Path.Combine(outDir, "circuit.json"));

var report = new Report("A circuit for one pairing") { Model = modelName, StaticImages = false };
report.AddPrompts(prompts);
report.AddFigure(CircuitReport.CurveFigure("greedy circuits", curve));
var top = scores.Top(20);
report.AddFigure(new BarFigure(top.Select(t => t.Edge.Name).ToArray(), top.Select(t => (double)t.Score).ToArray()) { Title = "Top 20 edges by EAP-IG score" });
Console.WriteLine($"report: {report.Write(outDir)}");
