#:project ../src/SharpLens.Reports/SharpLens.Reports.csproj
#:property Configuration=Release
// Activation patching with nothing but hooks: cache the clean run, then for every layer and position rerun the
// corrupted prompt with one hook that pastes the clean residual stream in, and score the logit difference. Then the
// library's ActivationPatcher (the fast exact engine) is checked against the hand-written loop.
//
//   dotnet run examples/patching-from-scratch.cs [-- MODEL OUT]     (MODEL defaults to $SHARPLENS_MODEL or gpt2)
using SharpLens.Analysis;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Reports;
using SharpLens.Tensors;

string modelName = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("SHARPLENS_MODEL") ?? "gpt2";
string outDir = args.Length > 1 ? args[1] : "reports/examples/patching-from-scratch";

var model = ModelLoader.Load(modelName);
var tok = model.RequireTokenizer();
var clean = tok.ToTokens(["We're helping our friend when they"]);
var corrupted = tok.ToTokens(["We are helping our friend when they"]);
(int, int)[] answers = [(tok.ToSingleToken("'re"), tok.ToSingleToken(" are"))];
float Score(Tensor logits) => LogitDiff.PerPrompt(logits, answers)[0];
var final = new ForwardOptions { Logits = LogitsMode.Final };

// [1] Baselines, and the clean run's residual stream at every layer.
int layers = model.Config.NLayers, positions = clean.Pos, d = model.Config.DModel;
var (cleanLogits, cache) = model.RunWithCache(clean, Enumerable.Range(0, layers).Select(HookNames.ResidPre), LogitsMode.Final);
float cleanDiff = Score(cleanLogits), corruptedDiff = Score(model.Run(corrupted, final));
Console.WriteLine($"[1] clean logit difference {cleanDiff:F4}, corrupted {corruptedDiff:F4}");

// [2] One patched run per (layer, position): a hook overwrites that position of resid_pre with the clean value.
var scores = new float[layers * positions];
for (int layer = 0; layer < layers; layer++)
    for (int pos = 0; pos < positions; pos++)
    {
        var source = cache[HookNames.ResidPre(layer)];   // [batch, pos, d_model]
        int p = pos;
        var hook = new Hook(HookNames.ResidPre(layer), (resid, _) =>
        {
            source.Data.AsSpan(p * d, d).CopyTo(resid.Data.AsSpan(p * d, d));
            return null;
        });
        float patched = Score(model.RunWithHooks(corrupted, [hook], LogitsMode.Final));
        scores[layer * positions + pos] = (patched - corruptedDiff) / (cleanDiff - corruptedDiff);
    }
var strTokens = tok.ToStrTokens(clean.Sequence(0));
var cols = strTokens.Select((t, i) => $"{t}_{i}").ToArray();
var byHand = new Grid(new Tensor(scores, layers, positions), Enumerable.Range(0, layers).Select(l => l.ToString()).ToArray(), cols)
    { Title = "resid_pre patching, by hand", RowTitle = "layer", ColTitle = "position" };
Console.WriteLine("[2] normalized score per layer (rows) and position (columns):");
for (int layer = 0; layer < layers; layer++)
    Console.WriteLine($"    {layer,3}: " + string.Join(" ", Enumerable.Range(0, positions).Select(p => scores[layer * positions + p].ToString("F2").PadLeft(6))));

// [3] The library does the same in one call, resuming each patched run where the patch starts (exact, not approximate).
var patcher = new ActivationPatcher(model, new PatchingInputs(clean, corrupted, new LogitDiffMetric(answers)), new PatchingOptions { StrTokens = strTokens });
var library = patcher.Normalize(patcher.ByPosition("resid_pre"));
double worst = Enumerable.Range(0, scores.Length).Max(i => Math.Abs(scores[i] - library.Values.Data[i]));
Console.WriteLine($"[3] ActivationPatcher agrees with the hand-written loop: largest difference {worst:E1}");
if (worst > 1e-3) { Console.Error.WriteLine("the two disagree"); return 1; }

var report = new Report("Activation patching from scratch") { Model = modelName, StaticImages = false };
report.AddFigure(HeatmapFigure.FromGrid(byHand), "patched by hand with hooks");
report.AddFigure(HeatmapFigure.FromGrid(library, "resid_pre patching, ActivationPatcher"), "the library's fast exact engine");
Console.WriteLine($"report: {report.Write(outDir)}");
return 0;
