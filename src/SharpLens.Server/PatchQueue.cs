using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using SharpLens.Analysis.Patching;

namespace SharpLens.Server;

/// <summary>Where a queued job stands.</summary>
internal enum JobState { Queued, Running, Done, Failed, Cancelled }

/// <summary>The work of a job: told its progress after every pass (may throw to cancel) and each finished grid as soon
/// as it is done (key, grid JSON), it returns the whole result.</summary>
internal delegate JsonObject PatchWork(Action<PatchingProgress> progress, Action<string, JsonNode> partial, CancellationToken cancel);

/// <summary>One patching job: its progress and finished grids while it runs and its result (or one-line error) afterwards.</summary>
internal sealed class PatchJob(int sequence, PatchWork work)
{
    /// <summary>Order of arrival (1, 2, ...).</summary>
    public int Sequence { get; } = sequence;
    public string Id { get; } = $"job{sequence}";
    public JobState State { get; set; } = JobState.Queued;
    public PatchingProgress Progress { get; set; }
    public JsonObject? Result { get; set; }
    public string? Error { get; set; }
    /// <summary>Bumped on every change, so a watcher knows when to send an event.</summary>
    public int Version;
    public CancellationTokenSource Cancel { get; } = new();
    public PatchWork Work { get; } = work;
    readonly List<(string Key, JsonNode Grid)> _partials = [];

    /// <summary>Grids finished so far, in order (a watcher sends those it has not sent yet).</summary>
    public (string Key, JsonNode Grid)[] Partials { get { lock (_partials) return _partials.ToArray(); } }

    /// <summary>Publishes one finished grid while the job goes on.</summary>
    public void AddPartial(string key, JsonNode grid)
    {
        lock (_partials) _partials.Add((key, grid));
        Interlocked.Increment(ref Version);
    }
    public bool Finished => State is JobState.Done or JobState.Failed or JobState.Cancelled;
}

/// <summary>
/// Long work (patching) runs one job at a time on one background worker, in order; a bounded number may wait, and
/// only the most recent finished jobs are kept, so memory stays bounded however many requests arrive.
/// </summary>
internal sealed class PatchQueue : IDisposable
{
    readonly Channel<PatchJob> _pending;
    readonly ConcurrentDictionary<string, PatchJob> _jobs = new();
    readonly ConcurrentQueue<string> _finished = new();
    readonly Task _worker;
    readonly CancellationTokenSource _stop = new();
    readonly int _keepFinished;
    int _nextId;

    readonly ManualResetEventSlim? _gate, _partialGate;

    public PatchQueue(int maxQueued, int keepFinished, ManualResetEventSlim? progressGate = null, ManualResetEventSlim? partialGate = null)
    {
        _gate = progressGate;
        _partialGate = partialGate;
        _pending = Channel.CreateBounded<PatchJob>(new BoundedChannelOptions(maxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _keepFinished = keepFinished;
        _worker = Task.Run(Work);
    }

    /// <summary>Queues <paramref name="work"/>; null when the queue is full.</summary>
    public PatchJob? Enqueue(PatchWork work)
    {
        var job = new PatchJob(Interlocked.Increment(ref _nextId), work);
        _jobs[job.Id] = job;
        if (_pending.Writer.TryWrite(job)) return job;
        _jobs.TryRemove(job.Id, out _);
        return null;
    }

    public PatchJob? Find(string id) => _jobs.TryGetValue(id, out var job) ? job : null;

    /// <summary>Jobs waiting before <paramref name="job"/> (0 when it runs or is next).</summary>
    public int Ahead(PatchJob job) => job.State == JobState.Queued
        ? _jobs.Values.Count(j => !j.Finished && j.Sequence < job.Sequence) : 0;

    /// <summary>Asks a job to stop: a queued job is dropped, a running one stops after its current pass.</summary>
    public bool Cancel(string id)
    {
        if (Find(id) is not { } job || job.Finished) return false;
        job.Cancel.Cancel();
        return true;
    }

    async Task Work()
    {
        try
        {
            await foreach (var job in _pending.Reader.ReadAllAsync(_stop.Token))
            {
                if (job.Cancel.IsCancellationRequested) { Finish(job, JobState.Cancelled, null, "cancelled before it started"); continue; }
                job.State = JobState.Running; Interlocked.Increment(ref job.Version);
                try
                {
                    var result = job.Work(p =>
                    {
                        job.Progress = p; Interlocked.Increment(ref job.Version);
                        _gate?.Wait(job.Cancel.Token);
                    }, (key, grid) =>
                    {
                        job.AddPartial(key, grid);
                        _partialGate?.Wait(job.Cancel.Token);
                    }, job.Cancel.Token);
                    Finish(job, JobState.Done, result, null);
                }
                catch (OperationCanceledException) { Finish(job, JobState.Cancelled, null, "cancelled"); }
                catch (Exception e) { Finish(job, JobState.Failed, null, ExplorerErrors.Describe(e)); }
            }
        }
        catch (OperationCanceledException) { }
    }

    void Finish(PatchJob job, JobState state, JsonObject? result, string? error)
    {
        job.Result = result; job.Error = error; job.State = state;
        Interlocked.Increment(ref job.Version);
        _finished.Enqueue(job.Id);
        while (_finished.Count > _keepFinished && _finished.TryDequeue(out var old)) _jobs.TryRemove(old, out _);
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var job in _jobs.Values) job.Cancel.Cancel();
        try { _worker.Wait(TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
    }
}
