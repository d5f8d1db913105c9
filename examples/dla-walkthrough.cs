#:project ../src/SharpLens.Reports/SharpLens.Reports.csproj
#:property Configuration=Release
// Direct logit attribution from first principles: the answer direction in the residual stream, the final LayerNorm's
// scale, the residual stream decomposed into its components, and the check that the parts add up to the logit
// difference the model actually produces. Then the same numbers from the one-call library function.
//
//   dotnet run examples/dla-walkthrough.cs [-- MODEL OUT]     (MODEL defaults to $SHARPLENS_MODEL or gpt2)
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Reports;
using SharpLens.Tensors;

string modelName = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("SHARPLENS_MODEL") ?? "gpt2";
string outDir = args.Length > 1 ? args[1] : "reports/examples/dla-walkthrough";

var model = ModelLoader.Load(modelName);
var tok = model.RequireTokenizer();
var clean = tok.ToTokens(["We're helping our friend when they"]);
int correct = tok.ToSingleToken("'re"), wrong = tok.ToSingleToken(" are");

// [1] The logit difference the model produces at the final position.
var logits = model.Run(clean, new ForwardOptions { Logits = LogitsMode.Final });
float measured = LogitDiff.PerPrompt(logits, [(correct, wrong)])[0];
Console.WriteLine($"[1] logit(|'re|) - logit(| are|) = {measured:F4}");

// [2] The answer direction: W_U[:, 're] - W_U[:, are] (a [batch, d_model] tensor; with folded LayerNorm weights).
Tensor direction = ResidualDirections.LogitDirections(model, [correct], [wrong]);
Console.WriteLine($"[2] logit-difference direction: d_model {direction.Dim(1)}, norm {Math.Sqrt(direction.Data.Sum(v => (double)v * v)):F4}");

// [3] Cache the residual stream and split it into embed, pos_embed and every attention and MLP output.
var (_, cache) = model.RunWithCache(clean, DirectLogitAttribution.NeededHooks(model.Config.NLayers), LogitsMode.None);
var final = PosSlice.Final(clean);
var parts = cache.DecomposeResid(final);
Console.WriteLine($"[3] {parts.Components} components: {string.Join(", ", parts.Labels)}");

// [4] Each component through ln_final's (cached) scale, projected on the direction: its direct effect in logits.
Tensor attrs = cache.LogitAttrs(parts, direction);   // [components, batch]
for (int c = 0; c < parts.Components; c++) Console.WriteLine($"    {parts.Labels[c],-12} {attrs.Data[c],9:F4}");

// [5] The parts add up: Σ components + the constant terms (unembedding bias) = the measured difference.
float constant = ResidualDirections.ConstantLogitTerms(model, [correct], [wrong])[0];
float sum = attrs.Data.Sum() + constant;
Console.WriteLine($"[5] sum of components {attrs.Data.Sum():F4} + constant {constant:F4} = {sum:F4} (measured {measured:F4}, difference {Math.Abs(sum - measured):E1})");

// [6] The same decomposition per head, and everything at once with DirectLogitAttribution.ForLogitDiff.
var heads = cache.StackHeadResults(final);
Tensor headAttrs = cache.LogitAttrs(heads, direction);
int top = Enumerable.Range(0, heads.Components).MaxBy(i => Math.Abs(headAttrs.Data[i]));
Console.WriteLine($"[6] strongest head {heads.Labels[top]}: {headAttrs.Data[top]:F4}");
var dla = DirectLogitAttribution.ForLogitDiff(model, cache, clean, [(correct, wrong)]);
int layer = top / model.Config.NHeads, head = top % model.Config.NHeads;
Console.WriteLine($"    ForLogitDiff gives {dla.Heads[layer, head]:F4} for the same head, and measures {dla.MeasuredLogitDiff[0]:F4}");

var report = new Report("Direct logit attribution, step by step") { Model = modelName, StaticImages = false };
report.AddFigure(new BarFigure(parts.Labels.ToArray(), attrs.Data.Select(v => (double)v).ToArray()) { Title = "Direct effect of each component (logits)" });
report.AddFigure(LineFigure.FromGridRows(dla.LogitLens), "logit lens");
report.AddFigure(HeatmapFigure.FromGrid(dla.Heads), "per-head direct logit attribution");
Console.WriteLine($"report: {report.Write(outDir)}");
