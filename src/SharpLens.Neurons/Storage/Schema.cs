namespace SharpLens.Neurons.Storage;

/// <summary>
/// The SQLite schema of a neuron index (documented in docs/neurons.md; bump <see cref="Format"/> on any change).
/// Format 2: a top example's row is keyed by a storage slot that stays with the example while it is kept (rank is
/// activation order, computed when read), so a checkpoint writes only the examples that entered since the last one.
/// </summary>
internal static class Schema
{
    /// <summary>Value of meta.format in every index this version writes.</summary>
    public const string Format = "sharplens-neurons/2";

    public const string Create = """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents (document_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE windows (
            window_id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL, start_token INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL, tokens BLOB NOT NULL);
        CREATE TABLE vocab (token_id INTEGER PRIMARY KEY, text TEXT NOT NULL);
        CREATE TABLE neurons (
            layer INTEGER NOT NULL, neuron INTEGER NOT NULL, count INTEGER NOT NULL,
            mean REAL, std REAL, min REAL, max REAL, frac_positive REAL,
            q10 REAL, q50 REAL, q90 REAL, q99 REAL,
            sum_fixed TEXT NOT NULL, sumsq_fixed TEXT NOT NULL, positive INTEGER NOT NULL, histogram BLOB NOT NULL,
            PRIMARY KEY (layer, neuron)) WITHOUT ROWID;
        CREATE INDEX neurons_by_max ON neurons (layer, max DESC);
        CREATE TABLE top_examples (
            layer INTEGER NOT NULL, neuron INTEGER NOT NULL, slot INTEGER NOT NULL, activation REAL NOT NULL,
            window_id INTEGER NOT NULL, position INTEGER NOT NULL, token_id INTEGER NOT NULL, activations BLOB NOT NULL,
            PRIMARY KEY (layer, neuron, slot)) WITHOUT ROWID;
        CREATE INDEX top_examples_by_token ON top_examples (token_id, activation DESC);
        CREATE INDEX top_examples_by_window ON top_examples (window_id);
        CREATE TABLE direct_logits (
            layer INTEGER NOT NULL, neuron INTEGER NOT NULL, rank INTEGER NOT NULL, token_id INTEGER NOT NULL, effect REAL NOT NULL,
            PRIMARY KEY (layer, neuron, rank)) WITHOUT ROWID;
        """;

    /// <summary>Tables an index must have; a file without them is not an index.</summary>
    public static readonly string[] Tables = ["meta", "documents", "windows", "vocab", "neurons", "top_examples", "direct_logits"];
}
