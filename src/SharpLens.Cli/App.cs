global using SharpLens;
global using SharpLens.Cli;
using System.CommandLine;
using SharpLens.Cli.Commands;

namespace SharpLens.Cli;

/// <summary>The <c>sharplens</c> command tree; tests call <see cref="Run"/> in-process.</summary>
public static class App
{
    /// <summary>
    /// The root is named <c>sharplens</c> (the installed tool's name) rather than after the executable, so that usage
    /// lines read the same however the program is started (dotnet tool, dotnet run, dotnet SharpLens.Cli.dll).
    /// </summary>
    public static Command Build() => new("sharplens", "SharpLens: mechanistic interpretability for GPT-2-family models in pure C#")
    {
        new System.CommandLine.Help.HelpOption(),
        new VersionOption(),
        PredictCommand.Create(),
        ActivationsCommand.Create(),
        GenerateCommand.Create(),
        AttributeCommand.Create(),
        PatchCommand.Create(),
        PlotCommand.Create(),
        PlotCommand.CreateIndex(),
        ViewCommand.Create(),
        StudyCommand.Create(),
        CompareCommand.Create(),
        BenchCommand.Create(),
        OvCommand.Create(),
        NeuronsCommand.Create(),
        CircuitCommand.Create(),
        PathPatchCommand.Create(),
        TrainCommand.Create(),
        ServeCommand.Create(),
    };

    /// <summary>Runs the command line <paramref name="args"/>; returns the exit code (0 ok, 1 a check failed, 2 bad input).</summary>
    public static int Run(string[] args) => Cli.Invoke(Build(), args);
}
