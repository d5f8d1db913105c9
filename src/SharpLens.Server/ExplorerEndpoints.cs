using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SharpLens.Analysis;
using SharpLens.Analysis.Patching;
using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>The explorer's routes: the page and its assets, four interactive analyses, the patching queue and export.</summary>
internal sealed class ExplorerEndpoints(HookedTransformer model, ExplorerOptions options, PatchQueue queue, ExplorerNeuronIndex? neurons)
{
    readonly SemaphoreSlim _analyses = new(options.MaxConcurrentAnalyses);

    public void Map(WebApplication app)
    {
        app.MapGet("/", () => StaticAssets.Page());
        app.MapGet("/assets/{**name}", (string name) => StaticAssets.Asset(name));
        app.MapGet("/api/model", () => Results.Json(ModelInfo()));
        app.MapPost("/api/predict", (HttpRequest r) => Analyse(r.HttpContext, ExplorerAnalyses.Predict));
        app.MapPost("/api/attribute", (HttpRequest r) => Analyse(r.HttpContext, ExplorerAnalyses.Attribute));
        app.MapPost("/api/head", (HttpRequest r) => Analyse(r.HttpContext, ExplorerAnalyses.Head));
        app.MapPost("/api/neuron", (HttpRequest r) => Analyse(r.HttpContext, NeuronView));
        app.MapGet("/neurons/{id}", NeuronPage);
        app.MapPost("/api/export", (HttpRequest r) => Analyse(r.HttpContext, (m, r) => ReportExport.Write(m, r, queue, options.ReportsDir)));
        app.MapPost("/api/patch", (HttpRequest r) => Patch(r.HttpContext));
        app.MapGet("/api/jobs/{id}", (string id) => queue.Find(id) is { } job ? Results.Json(Status(job)) : NoJob(id));
        app.MapPost("/api/jobs/{id}/cancel", (string id) => queue.Find(id) is { } job
            ? Results.Json(new JsonObject { ["job"] = id, ["cancelled"] = queue.Cancel(id) }) : NoJob(id));
        app.MapGet("/api/jobs/{id}/events", Events);
        app.MapFallback(() => Results.Json(new { error = "no such page: the explorer is at /" }, statusCode: StatusCodes.Status404NotFound));
    }

    JsonObject ModelInfo() => new()
    {
        ["name"] = model.Config.ModelName, ["n_layers"] = model.Config.NLayers, ["n_heads"] = model.Config.NHeads,
        ["d_mlp"] = model.Config.DMlp, ["n_ctx"] = model.Config.NCtx, ["d_vocab"] = model.Config.DVocab,
        ["tokenizer"] = model.Tokenizer is not null, ["neuron_index"] = neurons is not null,
        ["patch_kinds"] = new JsonArray(SweepNames.All.Select(k => (JsonNode?)k).ToArray()),
        ["patch_default_kinds"] = new JsonArray(PatchRequest.DefaultKinds.Select(k => (JsonNode?)k).ToArray()),
        ["example"] = options.Example?.DeepClone(),
    };

    /// <summary>Reads the body (size-limited), validates and runs <paramref name="analysis"/> off the request thread,
    /// at most <see cref="ExplorerOptions.MaxConcurrentAnalyses"/> at a time; errors become {"error": one line}.</summary>
    async Task<IResult> Analyse(HttpContext context, Func<HookedTransformer, ExplorerRequest, JsonObject> analysis)
    {
        string body;
        try { body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted); }
        catch (BadHttpRequestException e) { return Error(e.StatusCode, $"request refused: {e.Message}"); }
        await _analyses.WaitAsync(context.RequestAborted);
        try
        {
            return Results.Json(await Task.Run(() => analysis(model, ExplorerRequest.Parse(body, model)), context.RequestAborted));
        }
        catch (Exception e) when (ExplorerErrors.UserMessage(e) is string message) { return Error(StatusCodes.Status400BadRequest, message); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            options.Log?.Invoke($"explorer: {context.Request.Path}: {e}");
            return Error(StatusCodes.Status500InternalServerError, ExplorerErrors.Describe(e));
        }
        finally { _analyses.Release(); }
    }

    /// <summary>The neuron's activation on the prompt and, with an index, its Neuroscope-style page (embedded and linked).</summary>
    JsonObject NeuronView(HookedTransformer m, ExplorerRequest request)
    {
        var result = ExplorerAnalyses.Neuron(m, request);
        if (neurons is null) return result;
        var id = new NeuronId(result["layer"]!.GetValue<int>(), result["neuron"]!.GetValue<int>());
        result["page"] = $"/neurons/{id}";
        result["figures"]!.AsArray().Add(new JsonObject { ["id"] = "neuron-page", ["kind"] = "neuron_page", ["html"] = neurons.Body(id) });
        return result;
    }

    IResult NeuronPage(string id)
    {
        if (neurons is null) return Error(StatusCodes.Status404NotFound, "no neuron index is loaded: start sharplens serve with --neurons-db INDEX");
        try { return StaticAssets.Html(neurons.Page(NeuronId.Parse(id))); }
        catch (Exception e) when (ExplorerErrors.UserMessage(e) is string message) { return Error(StatusCodes.Status404NotFound, message); }
    }

    async Task<IResult> Patch(HttpContext context)
    {
        string body;
        try { body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted); }
        catch (BadHttpRequestException e) { return Error(e.StatusCode, $"request refused: {e.Message}"); }
        PatchRequest request;
        try { request = PatchRequest.Parse(model, ExplorerRequest.Parse(body, model)); }
        catch (Exception e) when (ExplorerErrors.UserMessage(e) is string message) { return Error(StatusCodes.Status400BadRequest, message); }
        var job = queue.Enqueue((progress, partial, cancel) => request.Run(model, progress, partial, cancel));
        if (job is null) return Error(StatusCodes.Status429TooManyRequests, "the patching queue is full: wait for a job to finish or cancel one");
        return Results.Json(Status(job));
    }

    JsonObject Status(PatchJob job)
    {
        var status = new JsonObject
        {
            ["job"] = job.Id, ["state"] = job.State.ToString().ToLowerInvariant(), ["ahead"] = queue.Ahead(job),
            ["done"] = job.Progress.Done, ["total"] = job.Progress.Total, ["sweep"] = job.Progress.Sweep,
        };
        if (job.Error is not null) status["error"] = job.Error;
        return status;
    }

    /// <summary>Server-sent events: "progress" on every change and one "partial" per finished grid (its key, grid and
    /// figure, so the page shows each kind as soon as it is done), then one "result", "failed" or "cancelled".</summary>
    async Task Events(string id, HttpContext context)
    {
        if (queue.Find(id) is not { } job) { await NoJob(id).ExecuteAsync(context); return; }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        int seen = -1, sentPartials = 0;
        try
        {
            while (true)
            {
                int version = Volatile.Read(ref job.Version);
                if (version != seen)
                {
                    seen = version;
                    var partials = job.Partials;
                    for (; sentPartials < partials.Length; sentPartials++)
                    {
                        var (key, grid) = partials[sentPartials];
                        var one = new JsonObject { [key] = grid.DeepClone() };
                        await Send(context, "partial", new JsonObject
                        {
                            ["job"] = job.Id, ["key"] = key, ["grid"] = grid.DeepClone(), ["figures"] = PatchFigures(one),
                        });
                    }
                    if (job.Finished)
                    {
                        var final = Status(job);
                        if (job.Result is { } result) { final["result"] = result.DeepClone(); final["figures"] = PatchFigures(result); }
                        await Send(context, job.State == JobState.Done ? "result" : job.State.ToString().ToLowerInvariant(), final);
                        return;
                    }
                    await Send(context, "progress", Status(job));
                }
                await Task.Delay(100, context.RequestAborted);
            }
        }
        catch (OperationCanceledException) { }
    }

    static async Task Send(HttpContext context, string name, JsonObject data)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>Each grid of a patching result drawn as the reports draw it, with ids "patch-KEY".</summary>
    static JsonArray PatchFigures(JsonObject result) => ExplorerAnalyses.Figures(result
        .Where(kv => kv.Value is not null && Reports.GridPlotter.IsGrid(kv.Value))
        .Select(kv => ($"patch-{kv.Key}", ExplorerAnalyses.GridFigure(Grid.FromJson(kv.Value!), kv.Key))).ToArray());

    static IResult NoJob(string id) => Error(StatusCodes.Status404NotFound, $"no job '{id}': it finished long ago or never existed; run the patching again");

    static IResult Error(int status, string message) => Results.Json(new JsonObject { ["error"] = message }, statusCode: status);
}
