using BenchmarkDotNet.Running;
using SharpLens.Bench;

// `quick` is a seconds-long Stopwatch sanity check of GEMM vs FMA peak; BenchmarkDotNet runs take minutes.
if (args.Length > 0 && args[0] == "quick") { QuickGemm.Run(args[1..]); return; }
if (args.Length > 0 && args[0] == "quick-dtype") { QuickDtypeGemm.Run(args[1..]); return; }
// ONNX Runtime on the same weights, interleaved (bench/onnx/README.md); the only user of the OnnxRuntime package.
if (args.Contains("--compare-onnx")) { Environment.ExitCode = CompareOnnx.Run(args); return; }
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

public partial class Program;
