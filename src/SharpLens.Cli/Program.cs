global using SharpLens;
global using SharpLens.Cli;
using System.CommandLine;
using SharpLens.Cli.Commands;

var root = new RootCommand("SharpLens: mechanistic interpretability for GPT-2-family models in pure C#.")
{
    PredictCommand.Create(),
    ActivationsCommand.Create(),
    GenerateCommand.Create(),
    AttributeCommand.Create(),
    PlotCommand.Create(),
    BenchCommand.Create(),
    StudyCommand.Create(),
};
return Cli.Invoke(root, args);
