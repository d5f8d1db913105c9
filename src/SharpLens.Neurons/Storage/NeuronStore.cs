using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using SharpLens.Neurons.Indexing;

namespace SharpLens.Neurons.Storage;

/// <summary>
/// The write side of an index file: creates it with its provenance, saves an <see cref="IndexState"/> as one transaction
/// (a failure - full disk, read-only file, a kill - leaves the previous checkpoint intact) and loads it back to resume or merge.
/// </summary>
internal sealed class NeuronStore : IDisposable
{
    private readonly SqliteConnection _db;

    private NeuronStore(string path, SqliteConnection db, IndexProvenance provenance)
    {
        Path = path; _db = db; Provenance = provenance;
    }

    public string Path { get; }
    public IndexProvenance Provenance { get; private set; }

    /// <summary>For tests: caps the file size in pages so a "full disk" can be simulated.</summary>
    internal long? MaxPageCount { set => Sqlite.Execute(_db, $"PRAGMA max_page_count = {value ?? 1073741823}"); }

    /// <summary>For tests: refuses every write with SQLite's read-only error, as a file made read-only mid-run would.</summary>
    internal bool QueryOnly { set => Sqlite.Execute(_db, $"PRAGMA query_only = {(value ? 1 : 0)}"); }

    /// <summary>Decodes token ids for the vocab table (which holds the tokens of stored windows and direct effects).</summary>
    public Func<int, string>? TokenText { get; set; }
    private readonly HashSet<int> _savedTokens = [];
    /// <summary>Windows and documents already in the file (a checkpoint writes only the others).</summary>
    private readonly HashSet<long> _savedWindows = [];
    private readonly HashSet<int> _savedDocuments = [];

    /// <summary>Creates a new index file (the path must not exist) holding the schema and the provenance.</summary>
    public static NeuronStore Create(string path, IndexProvenance provenance)
    {
        path = System.IO.Path.GetFullPath(path);
        if (File.Exists(path)) throw new InvalidInputException($"{path} already exists: resume it with the same options, or choose another --out");
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var db = Sqlite.Open(path, SqliteOpenMode.ReadWriteCreate);
        try
        {
            using var tx = db.BeginTransaction();
            Sqlite.Execute(db, Schema.Create, tx);
            WriteMeta(db, tx, provenance.ToMeta());
            WriteMeta(db, tx, new Dictionary<string, string>
            {
                ["format"] = Schema.Format, ["histogram_edges"] = HistogramEdgesJson(),
                ["next_window"] = "0", ["next_document"] = "0", ["next_document_first_window"] = "0",
            });
            tx.Commit();
        }
        catch (SqliteException e)
        {
            db.Dispose();
            SqliteConnection.ClearAllPools();
            TryDelete(path);
            throw Sqlite.Describe(e, path, "write");
        }
        catch
        {
            db.Dispose();
            TryDelete(path);
            throw;
        }
        return new NeuronStore(path, db, provenance);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); File.Delete(path + "-journal"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Opens an existing index for writing (to resume it).</summary>
    public static NeuronStore Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        var db = Sqlite.Open(path, SqliteOpenMode.ReadWrite);
        try
        {
            var meta = ReadMeta(db, path);
            return new NeuronStore(path, db, IndexProvenance.FromMeta(meta, path));
        }
        catch { db.Dispose(); throw; }
    }

    /// <summary>The meta table; a clear error when the file is not an index.</summary>
    internal static Dictionary<string, string> ReadMeta(SqliteConnection db, string path)
    {
        var meta = new Dictionary<string, string>();
        try
        {
            using var command = db.CreateCommand();
            command.CommandText = "SELECT key, value FROM meta";
            using var reader = command.ExecuteReader();
            while (reader.Read()) meta[reader.GetString(0)] = reader.GetString(1);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 1)
        {
            throw new InvalidInputException($"{path} is not a SharpLens neuron index (no meta table): build one with sharplens neurons index");
        }
        catch (SqliteException e) { throw Sqlite.Describe(e, path, "read"); }
        catch (Exception e) when (e is InvalidCastException or FormatException or InvalidOperationException)
        {
            throw new InvalidInputException($"{path} is a damaged neuron index (its meta table holds {e.GetType().Name}: {e.Message.Split('\n')[0]}): rebuild it with sharplens neurons index");
        }
        if (!meta.TryGetValue("format", out var format) || format != Schema.Format)
            throw new InvalidInputException($"{path} is not a {Schema.Format} index (format '{format}'): rebuild it with this version of sharplens neurons index");
        return meta;
    }

    /// <summary>Writes the direct logit effects of one layer (once, when the index is created).</summary>
    public void SaveDirectLogits(int layer, (int Token, float Effect)[][] promoted, (int Token, float Effect)[][] suppressed)
    {
        Transaction(tx =>
        {
            using var insert = Command(_db, tx, "INSERT OR REPLACE INTO direct_logits VALUES ($l, $n, $r, $t, $e)", "$l", "$n", "$r", "$t", "$e");
            for (int n = 0; n < promoted.Length; n++)
                foreach (var (list, sign) in new[] { (promoted[n], 1), (suppressed[n], -1) })
                    for (int r = 0; r < list.Length; r++)
                        Run(insert, layer, n, sign * (r + 1), list[r].Token, (double)list[r].Effect);
            SaveTokens(tx, promoted.Concat(suppressed).SelectMany(list => list.Select(e => e.Token)));
        });
    }

    /// <summary>
    /// Saves <paramref name="state"/> as one transaction, writing what changed since the last save: the statistics of
    /// every neuron (each batch changes them all), one top-example row per example that entered a heap, the windows
    /// and documents not yet stored, and the progress marker. Windows and documents no example refers to any more are
    /// dropped once, when the index is complete (until then they cost a little disk, not a rewrite per checkpoint).
    /// </summary>
    public void Save(IndexState state)
    {
        Transaction(tx =>
        {
            using (var upsert = Command(_db, tx, """
                INSERT OR REPLACE INTO neurons VALUES ($l, $n, $count, $mean, $std, $min, $max, $fp, $q10, $q50, $q90, $q99, $sum, $sq, $pos, $hist)
                """, "$l", "$n", "$count", "$mean", "$std", "$min", "$max", "$fp", "$q10", "$q50", "$q90", "$q99", "$sum", "$sq", "$pos", "$hist"))
            using (var dropLayer = Command(_db, tx, "DELETE FROM top_examples WHERE layer = $l", "$l"))
            using (var example = Command(_db, tx, "INSERT OR REPLACE INTO top_examples VALUES ($l, $n, $r, $a, $w, $p, $t, $v)", "$l", "$n", "$r", "$a", "$w", "$p", "$t", "$v"))
                foreach (var acc in state.Accumulators)
                {
                    var top = acc.Top;
                    if (top.RewriteAll) Run(dropLayer, acc.Layer);
                    for (int n = 0; n < acc.Neurons; n++)
                    {
                        var hist = acc.HistogramOf(n);
                        double min = acc.Min[n], max = acc.Max[n];
                        object Q(double q) => acc.Count == 0 ? DBNull.Value : HistogramBins.Quantile(hist, q, min, max);
                        object D(double v) => double.IsFinite(v) ? v : DBNull.Value;
                        Run(upsert, acc.Layer, n, acc.Count, D(acc.Mean(n)), D(acc.Std(n)), D(min), D(max),
                            acc.Count == 0 ? DBNull.Value : (double)acc.Positive[n] / acc.Count, Q(0.1), Q(0.5), Q(0.9), Q(0.99),
                            acc.Sum[n].ToString(CultureInfo.InvariantCulture), acc.SumSquares[n].ToString(CultureInfo.InvariantCulture),
                            acc.Positive[n], MemoryMarshal.AsBytes(hist.AsSpan()).ToArray());
                        if (!top.Dirty[n] && !top.RewriteAll) continue;
                        for (int s = n * top.K; s < n * top.K + top.Filled[n]; s++)
                        {
                            int row = top.Row[s];
                            if (!top.RewriteAll && !top.RowDirty[n * top.K + row]) continue;
                            Run(example, acc.Layer, n, row, (double)top.Activation[s], top.Window[s], top.Position[s], top.Token[s],
                                MemoryMarshal.AsBytes(top.Values[s].AsSpan()).ToArray());
                        }
                    }
                }
            using (var window = Command(_db, tx, "INSERT OR IGNORE INTO windows VALUES ($w, $d, $s, $n, $t)", "$w", "$d", "$s", "$n", "$t"))
                foreach (var w in state.Windows.Values)
                    if (!_savedWindows.Contains(w.Id))
                        Run(window, w.Id, w.Document, w.Start, w.Tokens.Length, MemoryMarshal.AsBytes(w.Tokens.AsSpan()).ToArray());
            using (var document = Command(_db, tx, "INSERT OR IGNORE INTO documents VALUES ($d, $name)", "$d", "$name"))
                foreach (var (id, name) in state.DocumentNames)
                    if (!_savedDocuments.Contains(id)) Run(document, id, name);
            SaveTokens(tx, state.Windows.Values.Where(w => !_savedWindows.Contains(w.Id)).SelectMany(w => w.Tokens));
            if (state.Complete)
            {
                Sqlite.Execute(_db, "DELETE FROM windows WHERE window_id NOT IN (SELECT window_id FROM top_examples)", tx);
                Sqlite.Execute(_db, "DELETE FROM documents WHERE document_id NOT IN (SELECT document_id FROM windows)", tx);
            }
            Provenance = Provenance with { WindowsDone = state.WindowsDone, TokensDone = state.TokensDone, Complete = state.Complete };
            var meta = Provenance.ToMeta();
            meta["next_window"] = I(state.NextWindow);
            meta["next_document"] = I(state.NextDocument);
            meta["next_document_first_window"] = I(state.NextDocumentFirstWindow);
            WriteMeta(_db, tx, meta);
        });
        // Only once the transaction is in: a failed save leaves everything to be written by the next one.
        _savedWindows.UnionWith(state.Windows.Keys);
        _savedDocuments.UnionWith(state.DocumentNames.Keys);
        foreach (var acc in state.Accumulators) acc.Top.ClearDirty();
    }

    /// <summary>Reads the saved state back (to resume a run or to merge shards).</summary>
    public IndexState Load()
    {
        var p = Provenance;
        var state = new IndexState(p.Layers, p.DMlp, p.TopK);
        var meta = ReadMeta(_db, Path);
        state.NextWindow = long.Parse(meta["next_window"], CultureInfo.InvariantCulture);
        state.NextDocument = int.Parse(meta["next_document"], CultureInfo.InvariantCulture);
        state.NextDocumentFirstWindow = long.Parse(meta["next_document_first_window"], CultureInfo.InvariantCulture);
        state.WindowsDone = p.WindowsDone; state.TokensDone = p.TokensDone; state.Complete = p.Complete;
        using (var command = Query("SELECT window_id, document_id, start_token, tokens FROM windows"))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
                state.Windows[reader.GetInt64(0)] = new TokenWindow(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt32(2),
                    MemoryMarshal.Cast<byte, int>((byte[])reader.GetValue(3)).ToArray());
        using (var command = Query("SELECT document_id, name FROM documents"))
        using (var reader = command.ExecuteReader())
            while (reader.Read()) state.DocumentNames[reader.GetInt32(0)] = reader.GetString(1);
        using (var command = Query("SELECT layer, neuron, count, min, max, sum_fixed, sumsq_fixed, positive, histogram FROM neurons"))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
            {
                var acc = state.For(reader.GetInt32(0));
                int n = reader.GetInt32(1);
                acc.Count = reader.GetInt64(2);
                if (!reader.IsDBNull(3)) acc.Min[n] = (float)reader.GetDouble(3);
                if (!reader.IsDBNull(4)) acc.Max[n] = (float)reader.GetDouble(4);
                acc.Sum[n] = Int128.Parse(reader.GetString(5), CultureInfo.InvariantCulture);
                acc.SumSquares[n] = Int128.Parse(reader.GetString(6), CultureInfo.InvariantCulture);
                acc.Positive[n] = reader.GetInt64(7);
                MemoryMarshal.Cast<byte, long>((byte[])reader.GetValue(8)).CopyTo(acc.HistogramOf(n));
            }
        using (var command = Query("SELECT layer, neuron, activation, window_id, position, token_id, activations FROM top_examples"))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
            {
                var acc = state.For(reader.GetInt32(0));
                acc.Top.Add(reader.GetInt32(1), (float)reader.GetDouble(2), reader.GetInt64(3), reader.GetInt32(4), reader.GetInt32(5),
                    MemoryMarshal.Cast<byte, Half>((byte[])reader.GetValue(6)));
            }
        // The heaps number their rows afresh; the next save replaces the stored rows of every neuron.
        foreach (var acc in state.Accumulators) { acc.Top.ClearDirty(); acc.Top.RewriteAll = true; }
        _savedWindows.UnionWith(state.Windows.Keys);
        _savedDocuments.UnionWith(state.DocumentNames.Keys);
        return state;
    }

    /// <summary>Copies the direct logit effects of <paramref name="source"/> (an index of the same model) into this one.</summary>
    public void CopyDirectLogits(string source)
    {
        Sqlite.Execute(_db, $"ATTACH DATABASE '{source.Replace("'", "''")}' AS src");
        try { Transaction(tx => Sqlite.Execute(_db, "INSERT OR IGNORE INTO direct_logits SELECT * FROM src.direct_logits", tx)); }
        finally { Sqlite.Execute(_db, "DETACH DATABASE src"); }
    }

    /// <summary>The vocab table.</summary>
    public List<(int Id, string Text)> ReadVocabulary()
    {
        var vocabulary = new List<(int, string)>();
        using var command = Query("SELECT token_id, text FROM vocab");
        using var reader = command.ExecuteReader();
        while (reader.Read()) vocabulary.Add((reader.GetInt32(0), reader.GetString(1)));
        return vocabulary;
    }

    /// <summary>Adds vocab rows (merging indexes).</summary>
    public void SaveVocabulary(IEnumerable<(int Id, string Text)> tokens) => Transaction(tx =>
    {
        using var insert = Command(_db, tx, "INSERT OR IGNORE INTO vocab VALUES ($id, $text)", "$id", "$text");
        foreach (var (id, text) in tokens) Run(insert, id, text);
    });

    private void SaveTokens(SqliteTransaction tx, IEnumerable<int> ids)
    {
        if (TokenText is null) return;
        using var insert = Command(_db, tx, "INSERT OR IGNORE INTO vocab VALUES ($id, $text)", "$id", "$text");
        foreach (int id in ids)
            if (_savedTokens.Add(id)) Run(insert, id, TokenText(id));
    }

    private SqliteCommand Query(string sql)
    {
        var command = _db.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private void Transaction(Action<SqliteTransaction> body)
    {
        try
        {
            using var tx = _db.BeginTransaction();
            body(tx);
            tx.Commit();
        }
        catch (SqliteException e) { throw Sqlite.Describe(e, Path, "write"); }
    }

    private static SqliteCommand Command(SqliteConnection db, SqliteTransaction tx, string sql, params string[] parameters)
    {
        var command = db.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var p in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = p });
        command.Prepare();
        return command;
    }

    private static void Run(SqliteCommand command, params object[] values)
    {
        for (int i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
        command.ExecuteNonQuery();
    }

    // A JSON array built by hand, not by the reflection-based serializer: library users' file-based apps
    // (`dotnet run app.cs`) run with reflection-based JSON serialization disabled. Infinite edges are null.
    private static string HistogramEdgesJson() =>
        new System.Text.Json.Nodes.JsonArray(HistogramBins.Edges.Select(e => double.IsInfinity(e) ? null : System.Text.Json.Nodes.JsonValue.Create(e)).ToArray<System.Text.Json.Nodes.JsonNode?>()).ToJsonString();

    private static void WriteMeta(SqliteConnection db, SqliteTransaction tx, Dictionary<string, string> meta)
    {
        using var command = Command(db, tx, "INSERT OR REPLACE INTO meta (key, value) VALUES ($k, $v)", "$k", "$v");
        foreach (var (key, value) in meta) Run(command, key, value);
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    public void Dispose() => _db.Dispose();
}
