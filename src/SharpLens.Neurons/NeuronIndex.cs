using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using SharpLens.Model;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Storage;

namespace SharpLens.Neurons;

/// <summary>
/// A neuron index, opened read-only: provenance, neuron records (the data of a neuron page), layer listings and token
/// search. Safe to keep open while serving pages; dispose to close the file.
/// </summary>
public sealed class NeuronIndex : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lazy<Dictionary<int, string>> _vocabulary;

    private NeuronIndex(string path, SqliteConnection db, IndexProvenance provenance)
    {
        Path = path; _db = db; Provenance = provenance;
        _vocabulary = new Lazy<Dictionary<int, string>>(() => Reading(ReadVocabulary));
    }

    /// <summary>The index file.</summary>
    public string Path { get; }
    /// <summary>What it was built from and how far it got.</summary>
    public IndexProvenance Provenance { get; }

    /// <summary>Opens an index file read-only; a clear error when it does not exist or is not an index.</summary>
    public static NeuronIndex Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new InvalidInputException($"neuron index {path} does not exist: build it with sharplens neurons index --model M --corpus C --out {System.IO.Path.GetFileName(path)}");
        var db = Sqlite.Open(path, SqliteOpenMode.ReadOnly);
        try { return new NeuronIndex(path, db, IndexProvenance.FromMeta(NeuronStore.ReadMeta(db, path), path)); }
        catch { db.Dispose(); throw; }
    }

    /// <summary>Refuses (with a one-line error) a model other than the one the index was built from.</summary>
    public void RequireModel(HookedTransformer model) => RequireModel(model, ModelFingerprint.Compute(model));

    /// <summary><see cref="RequireModel(HookedTransformer)"/> with the fingerprint already computed.</summary>
    public void RequireModel(HookedTransformer model, string fingerprint)
    {
        if (fingerprint != Provenance.ModelHash)
            throw new InvalidInputException($"neuron index {Path} was built for model '{Provenance.ModelId}' (weights {Provenance.ModelHash[..12]}), not for '{model.Config.ModelName}' (weights {fingerprint[..12]}): use an index built for this model");
    }

    /// <summary>Checks that the index holds <paramref name="id"/>; a clear error naming the valid range otherwise.</summary>
    public void RequireNeuron(NeuronId id)
    {
        if (!Provenance.Layers.Contains(id.Layer))
            throw new InvalidInputException($"layer {id.Layer} is not in neuron index {Path}: it holds layers {string.Join(", ", Provenance.Layers)}");
        if (id.Neuron >= Provenance.DMlp)
            throw new InvalidInputException($"neuron {id} does not exist: layer {id.Layer} has neurons 0..{Provenance.DMlp - 1}");
    }

    /// <summary>The page data of one neuron.</summary>
    public NeuronRecord GetNeuron(int layer, int neuron) => GetNeuron(new NeuronId(layer, neuron));

    /// <summary>The page data of one neuron.</summary>
    public NeuronRecord GetNeuron(NeuronId id)
    {
        RequireNeuron(id);
        return Reading(() => ReadNeuron(id));
    }

    private NeuronRecord ReadNeuron(NeuronId id)
    {
        NeuronStatistics statistics;
        ActivationHistogram histogram;
        using (var command = Query("SELECT count, mean, std, min, max, frac_positive, q10, q50, q90, q99, histogram FROM neurons WHERE layer = $l AND neuron = $n", id.Layer, id.Neuron))
        using (var reader = command.ExecuteReader())
        {
            if (!reader.Read())
            {
                statistics = new NeuronStatistics(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, new Dictionary<string, double>());
                histogram = new ActivationHistogram(HistogramBins.Edges, new long[HistogramBins.Count]);
            }
            else
            {
                double D(int i) => reader.IsDBNull(i) ? double.NaN : reader.GetDouble(i);
                statistics = new NeuronStatistics(reader.GetInt64(0), D(1), D(2), D(3), D(4), D(5),
                    new Dictionary<string, double> { ["q10"] = D(6), ["q50"] = D(7), ["q90"] = D(8), ["q99"] = D(9) });
                var counts = MemoryMarshal.Cast<byte, long>((byte[])reader.GetValue(10)).ToArray();
                if (counts.Length != HistogramBins.Count) throw Damaged($"neuron {id}'s histogram has {counts.Length} bins, not {HistogramBins.Count}");
                histogram = new ActivationHistogram(HistogramBins.Edges, counts);
            }
        }
        var examples = new List<TopExample>();
        using (var command = Query("""
            SELECT t.activation, t.window_id, w.document_id, COALESCE(d.name, ''), w.start_token, t.position, w.tokens, t.activations
            FROM top_examples t JOIN windows w ON w.window_id = t.window_id LEFT JOIN documents d ON d.document_id = w.document_id
            WHERE t.layer = $l AND t.neuron = $n ORDER BY t.activation DESC, t.window_id
            """, id.Layer, id.Neuron))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
            {
                var ids = MemoryMarshal.Cast<byte, int>((byte[])reader.GetValue(6)).ToArray();
                var values = MemoryMarshal.Cast<byte, Half>((byte[])reader.GetValue(7)).ToArray().Select(h => (float)h).ToArray();
                // Rank 1 = best: the heaps' order (higher activation, then the earlier window).
                examples.Add(new TopExample(examples.Count + 1, (float)reader.GetDouble(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetString(3),
                    reader.GetInt32(4), reader.GetInt32(5), ids, ids.Select(TokenText).ToArray(), values));
            }
        var promoted = new List<LogitEffect>();
        var suppressed = new List<LogitEffect>();
        using (var command = Query("SELECT rank, token_id, effect FROM direct_logits WHERE layer = $l AND neuron = $n ORDER BY abs(rank)", id.Layer, id.Neuron))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
                (reader.GetInt32(0) > 0 ? promoted : suppressed).Add(new LogitEffect(reader.GetInt32(1), TokenText(reader.GetInt32(1)), (float)reader.GetDouble(2)));
        return new NeuronRecord(id, Provenance, statistics, histogram, examples, promoted, suppressed);
    }

    /// <summary>Every neuron of <paramref name="layer"/>, highest max activation first.</summary>
    public IReadOnlyList<NeuronSummary> GetLayer(int layer)
    {
        RequireNeuron(new NeuronId(layer, 0));
        return Reading(() => ReadLayer(layer));
    }

    private List<NeuronSummary> ReadLayer(int layer)
    {
        var rows = new List<NeuronSummary>();
        using var command = Query("""
            SELECT n.neuron, n.max, n.mean, n.std, n.frac_positive,
                (SELECT t.token_id FROM top_examples t WHERE t.layer = n.layer AND t.neuron = n.neuron ORDER BY t.activation DESC, t.window_id LIMIT 1)
            FROM neurons n WHERE n.layer = $l ORDER BY n.max DESC, n.neuron
            """, layer);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            double D(int i) => reader.IsDBNull(i) ? double.NaN : reader.GetDouble(i);
            rows.Add(new NeuronSummary(reader.GetInt32(0), D(1), D(2), D(3), D(4), reader.IsDBNull(5) ? null : TokenText(reader.GetInt32(5))));
        }
        return rows;
    }

    /// <summary>
    /// Neurons whose top examples peak on <paramref name="tokenIds"/> (the last token at the peak, the earlier ones right
    /// before it), strongest first: the neuron's best such activation, and how many of its top examples match.
    /// </summary>
    public IReadOnlyList<SearchHit> SearchTokens(IReadOnlyList<int> tokenIds, int limit = 20)
    {
        if (tokenIds.Count == 0) throw new InvalidInputException("the search string is empty: give a token or a string, e.g. --token \"'re\"");
        return Reading(() => Search(tokenIds, limit));
    }

    private List<SearchHit> Search(IReadOnlyList<int> tokenIds, int limit)
    {
        var hits = new Dictionary<NeuronId, (double Activation, int Position, int Count, double Max)>();
        using (var command = Query("""
            SELECT t.layer, t.neuron, t.activation, t.position, w.tokens, n.max
            FROM top_examples t JOIN windows w ON w.window_id = t.window_id JOIN neurons n ON n.layer = t.layer AND n.neuron = t.neuron
            WHERE t.token_id = $l
            """, tokenIds[^1]))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
            {
                int position = reader.GetInt32(3);
                if (tokenIds.Count > 1)
                {
                    var window = MemoryMarshal.Cast<byte, int>((byte[])reader.GetValue(4));
                    int start = position - tokenIds.Count + 1;
                    if (start < 1 || !window.Slice(start, tokenIds.Count).SequenceEqual(tokenIds.ToArray())) continue;
                }
                var id = new NeuronId(reader.GetInt32(0), reader.GetInt32(1));
                double activation = reader.GetDouble(2);
                hits.TryGetValue(id, out var old);
                hits[id] = (old.Count == 0 || activation > old.Activation ? activation : old.Activation,
                    old.Count == 0 || activation > old.Activation ? position : old.Position, old.Count + 1, reader.GetDouble(5));
            }
        string text = string.Concat(tokenIds.Select(TokenText));
        return hits.OrderByDescending(h => h.Value.Activation).ThenBy(h => h.Key.Layer).ThenBy(h => h.Key.Neuron).Take(limit)
            .Select(h => new SearchHit(h.Key, h.Value.Activation, h.Value.Position, text, h.Value.Activation / h.Value.Max, h.Value.Count)).ToList();
    }

    /// <summary>Max activation over the corpus of every neuron of <paramref name="layer"/> ([d_mlp], NaN where none).</summary>
    public double[] LayerMax(int layer) => Reading(() =>
    {
        var max = Enumerable.Repeat(double.NaN, Provenance.DMlp).ToArray();
        using var command = Query("SELECT neuron, max FROM neurons WHERE layer = $l", layer);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            int neuron = reader.GetInt32(0);
            if ((uint)neuron >= (uint)max.Length) throw Damaged($"layer {layer} lists neuron {neuron}, but layers have {max.Length}");
            if (!reader.IsDBNull(1)) max[neuron] = reader.GetDouble(1);
        }
        return max;
    });

    /// <summary>The id of the stored token whose text is exactly <paramref name="text"/>, or null.</summary>
    public int? StoredTokenId(string text) =>
        _vocabulary.Value.Where(kv => kv.Value == text).Select(kv => (int?)kv.Key).Min();

    /// <summary>The text of a token id, from the index's vocabulary.</summary>
    public string TokenText(int id) => _vocabulary.Value.TryGetValue(id, out var text) ? text : $"<{id}>";

    private Dictionary<int, string> ReadVocabulary()
    {
        var vocabulary = new Dictionary<int, string>();
        using var command = Query("SELECT token_id, text FROM vocab");
        using var reader = command.ExecuteReader();
        while (reader.Read()) vocabulary[reader.GetInt32(0)] = reader.GetString(1);
        return vocabulary;
    }

    /// <summary>
    /// Runs a read of the file; what SQLite finds malformed, and values of the wrong type or size where the schema has
    /// them (a text where a count belongs, a blob of the wrong length), are one-line errors naming the file, not crashes.
    /// </summary>
    private T Reading<T>(Func<T> read)
    {
        try { return read(); }
        catch (SqliteException e) { throw Sqlite.Describe(e, Path, "read"); }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException or IndexOutOfRangeException
                                      or ArgumentException or InvalidOperationException or NullReferenceException)
        {
            throw Damaged($"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }

    private InvalidInputException Damaged(string what) => new($"neuron index {Path} is damaged ({what}): rebuild it with sharplens neurons index");

    private SqliteCommand Query(string sql, params object[] values)
    {
        var command = _db.CreateCommand();
        command.CommandText = sql;
        var names = new[] { "$l", "$n" };
        for (int i = 0; i < values.Length; i++) command.Parameters.AddWithValue(names[i], values[i]);
        return command;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _db.Dispose();
}
