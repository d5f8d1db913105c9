using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tensors;
using SharpLens.Tokenization;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens bench</c>: medians of the timings the issues set targets for, with the FMA peak and the memory read
/// bandwidth measured in the same run (these machines drift, so a speed is only meaningful next to its limits).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model to time (default: random weights shaped like GPT-2 small)" };
        var json = new Option<bool>("--json") { Description = "Print JSON on stdout instead of a table" };
        var repeats = new Option<int>("--repeats", "-r") { Description = "Timed repetitions per measurement", DefaultValueFactory = _ => 7 };
        var suites = new Option<string>("--suites") { DefaultValueFactory = _ => "core" };
        suites.Description = "Comma-separated: core (forward, GEMM, FMA peak), patching (experiment-1 exact patching suite), attribution (attribution patching of all heads and neurons), circuits (EAP, EAP-IG, faithfulness curve over all edges), neurons (the neuron-index pass: tokens/s and share of the SGEMM speed), training (training steps of issue 21's induction model: tokens/s and share of the SGEMM speed), explorer (each interaction of sharplens serve, timed through its endpoints)";
        var shapes = new Option<string>("--shapes") { DefaultValueFactory = _ => "1x8,8x8,8x128" };
        shapes.Description = "Comma-separated forward shapes PROMPTSxTOKENS the core suite times (full logits), e.g. 1x8,8x8,8x128,8x1024";
        var corpusKb = new Option<int>("--neurons-corpus-kb") { DefaultValueFactory = _ => 300 };
        corpusKb.Description = "Size of the generated corpus the neurons suite runs the whole neurons index command over (0: only the inner pass)";
        var command = new Command("bench", "Measure forward, GEMM and FMA-peak speed on this machine") { model, json, repeats, suites, shapes, corpusKb };
        command.SetAction(parse =>
        {
            int n = Math.Max(1, parse.GetValue(repeats));
            var wanted = parse.GetValue(suites)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            foreach (var suite in wanted)
                if (suite is not ("core" or "patching" or "attribution" or "circuits" or "neurons" or "training" or "explorer"))
                    throw new InvalidInputException($"unknown bench suite '{suite}': use core, patching, attribution, circuits, neurons, training or explorer");
            var forwardShapes = SharpLens.Cli.Bench.Workloads.ParseShapes(parse.GetValue(shapes)!);
            int kb = parse.GetValue(corpusKb);
            if (kb < 0) throw new InvalidInputException($"--neurons-corpus-kb {kb} must be 0 (no whole-command run) or more");
            var lm = parse.GetValue(model) is string m ? Cli.LoadModel(m, rawWeights: false) : RandomWeights.CreateModel(ModelConfig.Gpt2Small);
            var results = new JsonObject
            {
                ["model"] = parse.GetValue(model) ?? "random gpt2-small-shaped",
                ["cores"] = Environment.ProcessorCount,
                ["isa"] = GemmBenchmark.Isa,
            };
            foreach (var (prompts, tokens) in forwardShapes)
                if (tokens > lm.Config.NCtx)
                    throw new InvalidInputException($"--shapes {prompts}x{tokens}: the model's context is {lm.Config.NCtx} tokens; use at most {prompts}x{lm.Config.NCtx}");
            if (wanted.Contains("core")) Core(lm, n, forwardShapes, results);
            if (wanted.Contains("attribution")) Attribution(lm, results);
            if (wanted.Contains("patching")) Patching(lm, results);
            if (wanted.Contains("circuits")) CircuitsSuite(lm, results);
            if (wanted.Contains("neurons")) Neurons(lm, parse.GetValue(model), kb, n, results);
            if (wanted.Contains("training")) Training(lm, n, results);
            if (wanted.Contains("explorer")) Explorer(lm, n, results);
            if (parse.GetValue(json)) Console.WriteLine(results.ToJsonString(Cli.Json));
            else
            {
                var table = new Table().AddColumns("measurement", "value");
                foreach (var (key, value) in results) table.AddRow(Markup.Escape(key), Markup.Escape(value?.ToJsonString() ?? ""));
                AnsiConsole.Write(table);
            }
            return 0;
        });
        return command;
    }

    /// <summary>
    /// SGEMM, the FMA peak and the memory read bandwidth, then each forward shape (full logits, as
    /// <see cref="HookedTransformer.Forward(TokenBatch, ForwardOptions?)"/> runs by default) with its compute limit
    /// (its flops at the FMA peak) and memory limit (its weights read once at the measured bandwidth), and its time as
    /// a multiple of the larger of the two; then a Llama-3.2-1B block's bfloat16 GEMMs against the same limits.
    /// </summary>
    private static void Core(HookedTransformer lm, int n, IReadOnlyList<(int Prompts, int Tokens)> shapes, JsonObject results)
    {
        var gemm = GemmBenchmark.Measure(n * 3);
        results["sgemm_512x768x3072_gflops"] = gemm.PackedGflops;
        results["sgemm_512x768x3072_unpacked_gflops"] = gemm.UnpackedGflops;
        results["fma_peak_gflops"] = gemm.FmaPeakGflops;
        results["memory_read_gbps"] = gemm.ReadGBps;
        foreach (var (prompts, tokens) in shapes)
        {
            var batch = SharpLens.Cli.Bench.Workloads.Experiment1Shaped(lm, prompts, tokens).Clean;
            var cost = ForwardCost.Of(lm, prompts, tokens);
            // Shapes that take seconds (8x1024) are timed three times, not n: the median is as stable and the suite stays short.
            double first = Time(() => lm.Forward(batch));
            double seconds = Median(first > 1 ? Math.Min(n, 3) : n, () => lm.Forward(batch), warmUp: false);
            double compute = cost.ComputeLimitSeconds(gemm.FmaPeakGflops), memory = cost.MemoryLimitSeconds(gemm.ReadGBps);
            string key = $"forward_{prompts}x{tokens}";
            results[key + "_s"] = seconds;
            results[key + "_compute_limit_s"] = Math.Round(compute, 5);
            results[key + "_memory_limit_s"] = Math.Round(memory, 5);
            results[key + "_x_limit"] = Math.Round(seconds / Math.Max(compute, memory), 2);
        }
        // A Llama-3.2-1B block's GEMMs with bfloat16 weights at 1 and 8 rows (the 1x8 forward's shape), against the
        // same limits: the kernel-level stand-in for that model's forward until its family runs whole.
        foreach (int rows in new[] { 1, 8 })
        {
            var (seconds, bytes) = GemmBenchmark.MeasureLlama1bLayerBf16(rows, n);
            double memory = bytes / (gemm.ReadGBps * 1e9), compute = 2.0 * rows * (bytes / 2) / (gemm.FmaPeakGflops * 1e9);
            string key = $"llama1b_layer_gemms_bf16_{rows}rows";
            results[key + "_s"] = Math.Round(seconds, 6);
            results[key + "_memory_limit_s"] = Math.Round(memory, 6);
            results[key + "_x_limit"] = Math.Round(seconds / Math.Max(compute, memory), 2);
        }
    }

    /// <summary>
    /// The neuron-index pass on 48 windows of 128 tokens, and the whole <c>neurons index</c> command (a child process,
    /// default settings) over a generated corpus of <paramref name="corpusKb"/> KB, each next to SGEMM measured in the
    /// same run.
    /// </summary>
    private static void Neurons(HookedTransformer lm, string? model, int corpusKb, int n, JsonObject results)
    {
        if (results["sgemm_512x768x3072_gflops"] is null) Core(lm, n, [], results);
        double sgemm = results["sgemm_512x768x3072_gflops"]!.GetValue<double>();
        var r = SharpLens.Neurons.Indexing.IndexingBenchmark.Run(WithTokenizer(lm));
        results["neurons_index_tokens_per_s"] = Math.Round(r.TokensPerSecond, 1);
        results["neurons_index_gflops"] = Math.Round(r.Gflops, 1);
        results["neurons_index_share_of_sgemm"] = Math.Round(r.Gflops / sgemm, 3);
        if (corpusKb == 0) return;
        var whole = SharpLens.Cli.Bench.WholeIndexCommand.Run(model, lm, corpusKb * 1024L);
        results["neurons_index_command_s"] = Math.Round(whole.Seconds, 2);
        results["neurons_index_command_windows"] = whole.Windows;
        results["neurons_index_command_tokens_per_s"] = Math.Round(whole.Tokens / whole.Seconds, 1);
        results["neurons_index_command_share_of_sgemm"] = Math.Round(whole.Gflops / sgemm, 3);
    }

    /// <summary>
    /// Training steps of issue 21's induction model (<see cref="SharpLens.Training.TrainingBenchmark"/>), next to SGEMM
    /// measured in the same run: tokens/s, wall and CPU seconds per step, the steps' matmul GFLOP/s and their share of
    /// SGEMM's, and the time 4,000 steps take at this speed (the target: under 5 minutes on two cores).
    /// </summary>
    private static void Training(HookedTransformer lm, int n, JsonObject results)
    {
        if (results["sgemm_512x768x3072_gflops"] is null) Core(lm, n, [], results);
        double sgemm = results["sgemm_512x768x3072_gflops"]!.GetValue<double>();
        var r = SharpLens.Training.TrainingBenchmark.Run();
        results["training_tokens_per_s"] = Math.Round(r.TokensPerSecond, 1);
        results["training_step_s"] = Math.Round(r.Seconds / r.Steps, 5);
        results["training_cpu_s_per_step"] = Math.Round(r.CpuSeconds / r.Steps, 5);
        results["training_gflops"] = Math.Round(r.Gflops, 1);
        results["training_share_of_sgemm"] = Math.Round(r.Gflops / sgemm, 3);
        results["training_4000_steps_s"] = Math.Round(4000 * r.Seconds / r.Steps, 1);
    }

    /// <summary>Every explorer interaction through its endpoint on a loopback server: median seconds each.</summary>
    private static void Explorer(HookedTransformer lm, int n, JsonObject results)
    {
        foreach (var t in SharpLens.Server.ExplorerBenchmark.RunAsync(WithTokenizer(lm), n).GetAwaiter().GetResult())
            results[$"explorer_{t.Name}_s"] = Math.Round(t.MedianSeconds, 3);
    }

    /// <summary>Random weights come without a tokenizer; text workloads use GPT-2's.</summary>
    private static HookedTransformer WithTokenizer(HookedTransformer lm) =>
        lm.Tokenizer is null ? new HookedTransformer(lm.Config, lm.Weights, lm.WeightsProcessed, new Gpt2Tokenizer()) : lm;

    private static void Patching(HookedTransformer lm, JsonObject results)
    {
        var inputs = SharpLens.Cli.Bench.Workloads.Experiment1Shaped(lm);
        var suite = Cli.Err.Progress().Start(ctx =>
        {
            var task = ctx.AddTask("experiment-1 patching suite", maxValue: 1);
            var options = new SharpLens.Analysis.Patching.PatchingOptions
            {
                Progress = new Cli.SyncProgress<SharpLens.Analysis.Patching.PatchingProgress>(p => { task.Description = p.Sweep; task.MaxValue = Math.Max(1, p.Total); task.Value = p.Done; }),
            };
            return SharpLens.Analysis.Patching.PatchingSuite.RunExperiment1(lm, inputs, options);
        });
        results["patching_suite_exact_s"] = Math.Round(suite.Elapsed.TotalSeconds, 2);
        results["patching_suite_runs"] = suite.PatchedRuns;
        results["patching_neurons_s"] = Math.Round(suite.SweepTimes["neurons"].TotalSeconds, 2);
    }

    private static void Attribution(HookedTransformer lm, JsonObject results)
    {
        var inputs = SharpLens.Cli.Bench.Workloads.Experiment1Shaped(lm);
        // The first call also packs the transposed weights the backward pass needs (once per model).
        // Every named sweep (heads by position and every layer's neurons included) through the attribution engine.
        int EverySweep()
        {
            var engine = new SharpLens.Analysis.Attribution.AttributionPatcher(lm, inputs);
            return engine.RunEach(engine.Plan(SweepNames.All), normalize: false).Count();
        }
        results["attribution_first_call_s"] = Math.Round(Time(() => EverySweep()), 3);
        results["attribution_all_heads_neurons_s"] = Median(3, () => EverySweep());
    }

    // The study's group shape (8 prompts); every edge of the model's graph (32,491 for GPT-2 small). Each timing has a
    // *_cpu_s twin: the process's user CPU time for one run, which stays meaningful on a loaded machine.
    private static void CircuitsSuite(HookedTransformer lm, JsonObject results)
    {
        var inputs = SharpLens.Cli.Bench.Workloads.Experiment1Shaped(lm);
        var graph = SharpLens.Circuits.CircuitGraph.For(lm);
        results["circuits_edges"] = graph.Edges.Count;
        results["circuits_eap_all_edges_s"] = Median(3, () => SharpLens.Circuits.EdgeAttribution.Eap(lm, inputs.Clean, inputs.Corrupted, inputs.Metric));
        results["circuits_eap_all_edges_cpu_s"] = UserCpu(() => SharpLens.Circuits.EdgeAttribution.Eap(lm, inputs.Clean, inputs.Corrupted, inputs.Metric));
        SharpLens.Circuits.EdgeScores? scores = null;
        results["circuits_eap_ig5_s"] = Median(1, () => scores = SharpLens.Circuits.EdgeAttribution.EapIg(lm, inputs.Clean, inputs.Corrupted, inputs.Metric, 5));
        results["circuits_eap_ig5_cpu_s"] = UserCpu(() => SharpLens.Circuits.EdgeAttribution.EapIg(lm, inputs.Clean, inputs.Corrupted, inputs.Metric, 5));
        var sizes = SharpLens.Circuits.CircuitDiscovery.LogSizes(10, graph.Edges.Count, 20);
        void Curve()
        {
            var evaluator = new SharpLens.Circuits.CircuitEvaluator(lm, inputs);
            evaluator.Curve(scores!, sizes, (s, n) => SharpLens.Circuits.Circuit.Greedy(s, n));
        }
        results["circuits_faithfulness_curve20_s"] = Math.Round(Time(Curve), 3);
        results["circuits_faithfulness_curve20_cpu_s"] = UserCpu(Curve);
        // The study's path patching: every head and MLP of layers 0-6 as a single sender into a7.h11<v> (or the last layer's head).
        var patcher = new SharpLens.Circuits.PathPatcher(lm, inputs);
        var receiver = graph.Downstream[graph.HeadBackward(Math.Min(7, graph.NLayers - 1), graph.NHeads - 1, SharpLens.Circuits.HeadInput.V)];
        results["circuits_path_patching_sweep_cpu_s"] = UserCpu(() => patcher.SweepSenders([receiver]));
    }

    /// <summary>User CPU seconds of the whole process during one run of <paramref name="action"/>.</summary>
    private static double UserCpu(Action action)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var before = process.UserProcessorTime;
        action();
        process.Refresh();
        return Math.Round((process.UserProcessorTime - before).TotalSeconds, 3);
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Median wall time in seconds over <paramref name="n"/> runs, after one warm-up unless the caller ran it.</summary>
    internal static double Median(int n, Action action, bool warmUp = true)
    {
        if (warmUp) action();
        var times = new double[n];
        for (int i = 0; i < n; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return Math.Round(times[n / 2], 5);
    }
}
