namespace SharpLens.Training.Tasks;

/// <summary>
/// Where a run's sequences come from: a synthetic task with a planted mechanism or a text corpus. A batch is a pure
/// function of (seed, index), so a run that resumes at step s reads exactly the batches an uninterrupted run would
/// (the data position is the step count; nothing else needs saving).
/// </summary>
public abstract class TrainingTask
{
    /// <summary>The task's name as <c>sharplens train --task</c> takes it.</summary>
    public abstract string Name { get; }

    /// <summary>Tokens per sequence (BOS included); at most the model's n_ctx.</summary>
    public abstract int SequenceLength { get; }

    /// <summary>Training batch number <paramref name="index"/> of <paramref name="size"/> sequences.</summary>
    /// <param name="seed">the run's seed</param>
    /// <param name="index">which batch (0, 1, ...: micro-batches of one step have consecutive indices)</param>
    /// <param name="size">sequences in the batch</param>
    public abstract TrainingBatch TrainBatch(long seed, long index, int size);

    /// <summary>Held-out batch number <paramref name="index"/> (sequences the training batches never contain or, for a
    /// synthetic task, drawn from a separate random stream).</summary>
    /// <param name="seed">the run's seed</param>
    /// <param name="index">which evaluation batch</param>
    /// <param name="size">sequences in the batch</param>
    public abstract TrainingBatch EvalBatch(long seed, long index, int size);

    /// <summary>Checks the task fits the model; a one-line error naming what does not.</summary>
    /// <param name="model">the model's shape</param>
    public virtual void Validate(SharpLens.Model.ModelConfig model)
    {
        if (SequenceLength > model.NCtx)
            throw new InvalidInputException($"task {Name} needs sequences of {SequenceLength} tokens but the model's n_ctx is {model.NCtx}: raise n_ctx or shorten the sequences");
    }

    /// <summary>Extra files the task writes into the model folder (e.g. a tokenizer.json for a task with word tokens).</summary>
    /// <param name="folder">the model folder being written</param>
    public virtual void WriteModelFiles(string folder) { }

    /// <summary>A one-line description of the task's settings for logs and the report.</summary>
    public abstract string Describe();
}
