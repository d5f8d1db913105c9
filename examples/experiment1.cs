#:project ../src/SharpLens.Reports/SharpLens.Reports.csproj
#:property Configuration=Release
// The contraction study's experiment 1, step by step as the notebook did it: prediction, logit lens, per-head direct
// logit attribution, the attention of L7H11, activation patching, and neurons. Each block prints what the notebook
// cell showed; the figures go into one report.
//
//   dotnet run examples/experiment1.cs                 # GPT-2 small from the Hugging Face cache (or $SHARPLENS_MODEL)
//   dotnet run examples/experiment1.cs -- MODEL OUT    # any model folder or hub id; report folder OUT
using SharpLens;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Predictions;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Reports;

string modelName = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("SHARPLENS_MODEL") ?? "gpt2";
string outDir = args.Length > 1 ? args[1] : "reports/examples/experiment1";

var model = ModelLoader.Load(modelName);
var tok = model.RequireTokenizer();
var cfg = model.Config;
Console.WriteLine($"Loaded {modelName}: {cfg.NLayers} layers, {cfg.NHeads} heads, d_model {cfg.DModel}");
var report = new Report("Experiment 1, step by step") { Model = modelName, StaticImages = false };

// The study's first pairing: the contraction and its expansion, each the other's corrupted prompt.
string[] prompts = ["We're helping our friend when they", "We are helping our friend when they"];
(string Correct, string Wrong)[] answerText = [("'re", " are"), (" are", "'re")];
var clean = tok.ToTokens(prompts);
var corrupted = tok.ToTokens(prompts.Reverse().ToArray());
var answers = answerText.Select(a => (tok.ToSingleToken(a.Correct), tok.ToSingleToken(a.Wrong))).ToArray();
report.AddPrompts(prompts);

// [1] What does the model predict? (test_prompt)
var table = new TopKTable { Title = "Top 5 next tokens" };
for (int i = 0; i < prompts.Length; i++)
{
    var p = NextTokenPrediction.Run(model, tok.ToTokens(prompts[i]), topK: 5, answerId: answers[i].Item1);
    Console.WriteLine($"\n[1] Tokenized prompt: {string.Join(" ", p.StrTokens.Select(t => $"|{t}|"))}");
    Console.WriteLine($"    Performance on answer token |{p.Answer!.Token}|: rank {p.Answer.Rank}, logit {p.Answer.Logit:F2}, prob {p.Answer.Prob:P2}");
    foreach (var (t, rank) in p.TopK.Select((t, r) => (t, r))) Console.WriteLine($"    top {rank}: |{t.Token}| logit {t.Logit:F2} prob {t.Prob:P2}");
    table.Rows.Add(new TopKRow(prompts[i], p.TopK.Select(t => new TopKEntry(t.Token, t.Logit, t.Prob)).ToList(), p.Answer.Token, p.Answer.Rank));
}
report.AddFigure(table);

// [2] Logit difference and the logit lens (accumulated residual stream through ln_final, on the answer direction)
var (_, cache) = model.RunWithCache(clean, DirectLogitAttribution.NeededHooks(cfg.NLayers), LogitsMode.None);
var dla = DirectLogitAttribution.ForLogitDiff(model, cache, clean, answers, topK: 10);
Console.WriteLine($"\n[2] Logit difference per prompt: {string.Join(", ", dla.MeasuredLogitDiff.Select(v => v.ToString("F4")))}");
Console.WriteLine("    Logit lens: " + string.Join("  ", dla.LogitLens.Cols.Select((c, i) => $"{c} {dla.LogitLens[0, i]:F3}")));
report.AddFigure(LineFigure.FromGridRows(dla.LogitLens), "logit difference of the accumulated residual stream");
report.AddFigure(LineFigure.FromGridRows(dla.Layers), "direct logit attribution of each layer's attention and MLP output");

// [3] Per-head direct logit attribution
var topHeads = dla.Heads.TopByMagnitude(5);   // cells of the [layer, head] grid, largest |value| first
Console.WriteLine("\n[3] Heads with the largest direct effect: " + string.Join(", ", topHeads.Select(c => $"{new HeadId(c.Row, c.Col)} {c.Value:F3}")));
report.AddFigure(HeatmapFigure.FromGrid(dla.Heads), "per-head direct logit attribution (mean over prompts)");

// [4] Attention pattern of L7H11 (the study's head; the last head of the last layer on smaller models)
var studyHead = new HeadId(Math.Min(7, cfg.NLayers - 1), Math.Min(11, cfg.NHeads - 1));
var pattern = ComponentActivations.HeadPatterns(model, clean.Sequence(0), [studyHead])[0];   // [query_pos, key_pos]
int pos = clean.Lengths[0];
var strTokens = tok.ToStrTokens(clean.Sequence(0));
int mostAttended = Enumerable.Range(0, pos).MaxBy(k => pattern[pos - 1, k]);
Console.WriteLine($"\n[4] {studyHead}: the final token attends most to |{strTokens[mostAttended]}| (position {mostAttended}, {pattern[pos - 1, mostAttended]:F3})");
report.AddFigure(new AttentionFigure(strTokens).Add(new AttentionHead(studyHead, pattern)), "attention pattern on the first prompt");

// [5] Activation patching (clean into corrupted), normalized: 1 = restores the clean logit difference
var patcher = new ActivationPatcher(model, new PatchingInputs(clean, corrupted, new LogitDiffMetric(answers)),
    new PatchingOptions { StrTokens = strTokens });
Console.WriteLine($"\n[5] Clean logit difference {patcher.CleanBaseline.Average():F4}, corrupted {patcher.CorruptedBaseline.Average():F4}");
foreach (var activation in new[] { "resid_pre", "attn_out", "mlp_out" })
{
    var grid = patcher.Normalize(patcher.ByPosition(activation));
    int best = Enumerable.Range(0, grid.Values.Length).MaxBy(i => grid.Values.Data[i]);
    Console.WriteLine($"    {activation}: strongest at layer {grid.Rows[best / grid.Cols.Count]}, position {grid.Cols[best % grid.Cols.Count]} ({grid.Values.Data[best]:F3})");
    report.AddFigure(HeatmapFigure.FromGrid(grid), $"{activation} patching by layer and position");
}
var heads = patcher.Normalize(patcher.HeadsAllPositions(HeadActivation.Output));
var bestHead = heads.TopByMagnitude(1)[0];
Console.WriteLine($"    head outputs: largest effect {new HeadId(bestHead.Row, bestHead.Col)} ({bestHead.Value:F3})");
report.AddFigure(HeatmapFigure.FromGrid(heads), "head output patching (all positions)");

// [6] Neurons: patch every neuron of the study's layers (8 and 10 on GPT-2 small), then look at the strongest one
var neuronLayers = PatchingSuite.DefaultNeuronLayers(cfg.NLayers);
var neurons = patcher.Normalize(patcher.Neurons(neuronLayers));
var bestNeuron = neurons.TopByMagnitude(1)[0];   // rows are neuronLayers, columns neuron indices
var strongest = new NeuronId(neuronLayers[bestNeuron.Row], bestNeuron.Col);
Console.WriteLine($"\n[6] Neuron patching over layers {string.Join(",", neuronLayers)}: largest effect {strongest} ({bestNeuron.Value:F3})");
report.AddFigure(LineFigure.FromGridRows(neurons), "neuron patching (one line per layer)");
var activations = ComponentActivations.NeuronActivations(model, clean, [strongest])[0];   // [prompt][pos]
var text = new NeuronTextFigure([strongest]) { Title = $"Activation of {strongest}" };
for (int b = 0; b < clean.Batch; b++)
{
    var promptTokens = tok.ToStrTokens(clean.Sequence(b));
    text.Add(new NeuronTextPrompt(promptTokens, [activations[b]]));
    Console.WriteLine($"    prompt {b}: " + string.Join(" ", promptTokens.Select((t, p) => $"|{t}| {activations[b][p]:F2}")));
}
report.AddFigure(text);

Console.WriteLine($"\nreport: {report.Write(outDir)}");
