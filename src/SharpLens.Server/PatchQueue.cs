using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using SharpLens.Analysis.Patching;

namespace SharpLens.Server;

/// <summary>Where a queued job stands.</summary>
internal enum JobState { Queued, Running, Done, Failed, Cancelled }

/// <summary>One patching job: its progress while it runs and its result (or one-line error) afterwards.</summary>
internal sealed class PatchJob(int sequence, Func<Action<PatchingProgress>, CancellationToken, JsonObject> work)
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
    public Func<Action<PatchingProgress>, CancellationToken, JsonObject> Work { get; } = work;
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

    readonly ManualResetEventSlim? _gate;

    public PatchQueue(int maxQueued, int keepFinished, ManualResetEventSlim? progressGate = null)
    {
        _gate = progressGate;
        _pending = Channel.CreateBounded<PatchJob>(new BoundedChannelOptions(maxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _keepFinished = keepFinished;
        _worker = Task.Run(Work);
    }

    /// <summary>Queues <paramref name="work"/>; null when the queue is full.</summary>
    public PatchJob? Enqueue(Func<Action<PatchingProgress>, CancellationToken, JsonObject> work)
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
