using System.CommandLine;
using System.Diagnostics;
using SharpLens.Server;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens serve</c>: the explorer, a local web app over one loaded model (see <see cref="ExplorerServer"/>).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1 (0 picks a free one)", DefaultValueFactory = _ => 8765 };
        var open = new Option<bool>("--open") { Description = "Open the explorer in the web browser" };
        var neuronsDb = new Option<string?>("--neurons-db") { Description = "Neuron index built from this model (sharplens neurons index): neuron views link its pages" };
        var reports = new Option<string>("--reports") { Description = "Folder where Export writes report folders", DefaultValueFactory = _ => "reports" };
        var command = new Command("serve", "Explore a model in the browser: predictions, attribution, heads, neurons, patching (local only)")
            { model, raw, port, open, neuronsDb, reports };
        command.SetAction(parse =>
        {
            int p = parse.GetValue(port);
            if (p is < 0 or > 65535) throw new InvalidInputException($"--port {p} is not a port: use 1..65535 (or 0 for any free port)");
            SharpLens.Reports.OutputLocation.RequireWritableFolder("--reports", parse.GetValue(reports)!);   // before the model loads
            // A missing or unreadable index is refused before the (slow) model load; the model check needs the model.
            if (parse.GetValue(neuronsDb) is string db) Neurons.NeuronIndex.Open(db).Dispose();
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            var options = new ExplorerOptions { Port = p, NeuronsDb = parse.GetValue(neuronsDb), ReportsDir = parse.GetValue(reports)!, Log = line => Cli.Err.WriteLine(line) };
            ExplorerServer server;
            try { server = ExplorerServer.StartAsync(lm, options).GetAwaiter().GetResult(); }
            catch (IOException e) { throw new InvalidInputException($"cannot listen on 127.0.0.1:{p}: {e.Message.Split('\n')[0]} (choose another --port)"); }
            Cli.Err.MarkupLine($"SharpLens explorer: [link]{Markup.Escape(server.Address.ToString())}[/]  (Ctrl+C to stop)");
            if (parse.GetValue(open)) OpenBrowser(server.Address);
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        });
        return command;
    }

    static void OpenBrowser(Uri address)
    {
        try { Process.Start(new ProcessStartInfo(address.ToString()) { UseShellExecute = true }); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Cli.Err.MarkupLine($"[yellow]warning:[/] could not open a browser ({Markup.Escape(e.Message)}); open the address above yourself");
        }
    }
}
