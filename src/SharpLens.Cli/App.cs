global using SharpLens;
global using SharpLens.Cli;
using System.CommandLine;
using SharpLens.Cli.Commands;

namespace SharpLens.Cli;

/// <summary>The <c>sharplens</c> command tree; tests call <see cref="Run"/> in-process.</summary>
public static class App
{
    public static RootCommand Build() => new("SharpLens: mechanistic interpretability for GPT-2-family models in pure C#.")
    {
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
    };

    public static int Run(string[] args) => Cli.Invoke(Build(), args);
}
