using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Bench;

/// <summary>
/// <c>--compare-onnx MODEL.onnx --model FOLDER [--shapes 1x8,8x8,8x128,8x1024] [--seconds S]</c>: the full-logits
/// forward pass of SharpLens and of ONNX Runtime (ORT_ENABLE_ALL, one intra-op thread per core) on the same weights,
/// interleaved: each round runs both once, in alternating order, so drift on a shared machine hits both alike; the
/// ratio per shape is the median of the rounds' ORT/SharpLens time ratios (above 1: SharpLens is faster). Both write
/// into output memory reused across calls (SharpLens' <see cref="ForwardOptions.LogitsBuffer"/>, ORT's bound output),
/// as a steady-state loop would. Before timing, the two runtimes' logits are compared (centred per row: SharpLens
/// centres the unembedding as TransformerLens does); a different model is refused. bench/onnx/README.md says how to
/// make the file.
/// </summary>
internal static class CompareOnnx
{
    public static int Run(string[] args)
    {
        string? onnx = null, folder = null, shapeText = "1x8,8x8,8x128,8x1024";
        double seconds = 10;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--compare-onnx": onnx = Value(); break;
                case "--model": folder = Value(); break;
                case "--shapes": shapeText = Value(); break;
                case "--seconds": seconds = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                default: return Fail($"unknown argument {args[i]}: use --compare-onnx MODEL.onnx --model FOLDER [--shapes 1x8,8x8] [--seconds S]");
            }
        }
        if (onnx is null || !File.Exists(onnx)) return Fail($"--compare-onnx {onnx}: no such file; make one with bench/onnx/export_gpt2_onnx.py (bench/onnx/README.md)");
        if (folder is null) return Fail("--model FOLDER is missing: the checkpoint folder MODEL.onnx was exported from");
        List<(int Prompts, int Tokens)> shapes;
        try { shapes = SharpLens.Cli.Bench.Workloads.ParseShapes(shapeText); }
        catch (InvalidInputException e) { return Fail(e.Message); }

        HookedTransformer lm;
        try { lm = ModelLoader.Load(folder); }
        catch (SharpLensException e) { return Fail(e.Message); }
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = Environment.ProcessorCount,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        InferenceSession session;
        try { session = new InferenceSession(onnx, sessionOptions); }
        catch (OnnxRuntimeException e) { return Fail($"{onnx} is not a model ONNX Runtime can load ({e.Message.Split('\n')[0]}): make it with bench/onnx/export_gpt2_onnx.py"); }
        using var _ = session;
        if (!session.InputMetadata.ContainsKey("input_ids") || !session.OutputMetadata.ContainsKey("logits"))
            return Fail($"{onnx} has no input_ids input or logits output: make it with bench/onnx/export_gpt2_onnx.py");
        Console.WriteLine($"model {lm.Config.ModelName}: {lm.Config.NLayers} layers, d_model {lm.Config.DModel}, d_vocab {lm.Config.DVocab}; " +
            $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {Environment.ProcessorCount} threads; SharpLens {GemmBenchmark.Isa}");
        foreach (var (prompts, tokens) in shapes)
        {
            if (tokens > lm.Config.NCtx) return Fail($"--shapes {prompts}x{tokens}: the model's context is {lm.Config.NCtx} tokens");
            var batch = SharpLens.Cli.Bench.Workloads.Experiment1Shaped(lm, prompts, tokens).Clean;
            var ours = Tensor.Zeros(prompts, tokens, lm.Config.DVocab);
            var options = new ForwardOptions { LogitsBuffer = ours };
            var theirs = new float[ours.Length];
            using var input = OrtValue.CreateTensorValueFromMemory(batch.Ids.Select(id => (long)id).ToArray(), [prompts, tokens]);
            using var output = OrtValue.CreateTensorValueFromMemory(theirs, [prompts, tokens, lm.Config.DVocab]);
            using var binding = session.CreateIoBinding();
            using var runOptions = new RunOptions();
            binding.BindInput("input_ids", input);
            binding.BindOutput("logits", output);
            void Sharp() => lm.Run(batch, options);
            void Ort() => session.RunWithBinding(runOptions, binding);

            Sharp();
            try { Ort(); }
            catch (OnnxRuntimeException e)
            {
                return Fail($"{onnx} does not run on {folder}'s {prompts}x{tokens} input and logits ({e.Message.Split('\n')[0]}): export it from that folder (bench/onnx/README.md)");
            }
            double diff = MaxCentredDifference(ours.Data, theirs, lm.Config.DVocab, out double scale);
            if (!(diff <= 1e-3 * Math.Max(1, scale)))
                return Fail($"{onnx} does not compute {folder}'s logits (largest difference {diff:G3} at logit scale {scale:G3}): export it from that folder (bench/onnx/README.md)");

            var sharpTimes = new List<double>();
            var ortTimes = new List<double>();
            var ratios = new List<double>();
            var total = Stopwatch.StartNew();
            for (int round = 0; round < 3 || total.Elapsed.TotalSeconds < seconds; round++)
            {
                double s, o;
                if (round % 2 == 0) { s = Time(Sharp); o = Time(Ort); }
                else { o = Time(Ort); s = Time(Sharp); }
                sharpTimes.Add(s);
                ortTimes.Add(o);
                ratios.Add(o / s);
            }
            var cost = ForwardCost.Of(lm, prompts, tokens);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{prompts}x{tokens}: SharpLens {Median(sharpTimes) * 1e3:F1} ms, ONNX Runtime {Median(ortTimes) * 1e3:F1} ms, " +
                $"ORT/SharpLens {Median(ratios):F2} (median of {ratios.Count} interleaved rounds; quartiles {Quantile(ratios, 0.25):F2}-{Quantile(ratios, 0.75):F2}), " +
                $"{cost.Flops / 1e9:F1} GFLOP, logits agree to {diff:G2}"));
        }
        return 0;
    }

    /// <summary>Largest difference of the two [rows, vocab] logit sets after each row's mean is taken off;
    /// <paramref name="scale"/> is the largest centred value.</summary>
    private static double MaxCentredDifference(float[] a, float[] b, int vocab, out double scale)
    {
        double worst = 0;
        scale = 0;
        for (int row = 0; row < a.Length / vocab; row++)
        {
            var x = a.AsSpan(row * vocab, vocab);
            var y = b.AsSpan(row * vocab, vocab);
            double meanX = 0, meanY = 0;
            for (int i = 0; i < vocab; i++) { meanX += x[i]; meanY += y[i]; }
            meanX /= vocab;
            meanY /= vocab;
            for (int i = 0; i < vocab; i++)
            {
                worst = Math.Max(worst, Math.Abs(x[i] - meanX - (y[i] - meanY)));
                scale = Math.Max(scale, Math.Abs(y[i] - meanY));
            }
        }
        return worst;
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(List<double> values) => Quantile(values, 0.5);

    private static double Quantile(List<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Round(q * (sorted.Length - 1))];
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }
}
