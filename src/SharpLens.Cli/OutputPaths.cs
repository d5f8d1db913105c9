using System.CommandLine;
using System.Runtime.CompilerServices;
using SharpLens.Reports;

namespace SharpLens.Cli;

/// <summary>
/// The output paths of every command, declared where the option is made (<see cref="File"/>, <see cref="Folder"/>)
/// and checked by <see cref="Cli.Invoke"/> before the command runs, so that a path that cannot be written fails in a
/// second with a message saying what to do (<see cref="OutputLocation"/>), not after the model has loaded and the work
/// is done. Output folders are also locked for the run (<see cref="OutputFolderLock"/>).
/// </summary>
internal static class OutputPaths
{
    private enum Kind { File, Folder }

    private static readonly ConditionalWeakTable<Symbol, StrongBox<Kind>> Declared = new();

    /// <summary>Declares <paramref name="option"/> as a file the command writes.</summary>
    public static T File<T>(T option) where T : Symbol { Declared.AddOrUpdate(option, new(Kind.File)); return option; }

    /// <summary>Declares <paramref name="option"/> as a folder the command writes into (created when missing).</summary>
    public static T Folder<T>(T option) where T : Symbol { Declared.AddOrUpdate(option, new(Kind.Folder)); return option; }

    /// <summary>Whether a symbol was declared as an output path (the help test checks every --out/--json/--plot is).</summary>
    public static bool IsDeclared(Symbol symbol) => Declared.TryGetValue(symbol, out _);

    /// <summary>Checks every declared output path given on the command line, then locks the output folders.</summary>
    /// <returns>The folder locks, to dispose when the command has finished.</returns>
    public static IReadOnlyList<OutputFolderLock> CheckAndLock(ParseResult parse)
    {
        var folders = new List<string>();
        var command = parse.CommandResult.Command;
        foreach (var symbol in command.Options.Cast<Symbol>().Concat(command.Arguments))
        {
            if (!Declared.TryGetValue(symbol, out var kind)) continue;
            string? path = symbol switch
            {
                Option<string> o => parse.GetValue(o),
                Argument<string> a => parse.GetValue(a),
                _ => null,
            };
            if (string.IsNullOrEmpty(path)) continue;
            string name = symbol is Option o2 ? o2.Name : symbol.Name;
            if (kind.Value == Kind.File) OutputLocation.RequireWritableFile(name, path);
            else { OutputLocation.RequireWritableFolder(name, path); folders.Add(Path.GetFullPath(path)); }
        }
        var locks = new List<OutputFolderLock>();
        try
        {
            foreach (var folder in folders.Distinct()) locks.Add(OutputFolderLock.Acquire(folder));
        }
        catch
        {
            foreach (var l in locks) l.Dispose();
            throw;
        }
        return locks;
    }
}
