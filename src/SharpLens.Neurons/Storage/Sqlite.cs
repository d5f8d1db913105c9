using Microsoft.Data.Sqlite;

namespace SharpLens.Neurons.Storage;

/// <summary>Opening index files and turning SQLite failures into one-line errors that say what to do.</summary>
internal static class Sqlite
{
    /// <summary>Opens <paramref name="path"/>; no connection pooling, so the file is closed when the connection is.</summary>
    public static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA busy_timeout = 5000");
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw Describe(e, path, mode == SqliteOpenMode.ReadOnly ? "open" : "write");
        }
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    /// <summary>A SharpLens error for a SQLite failure on <paramref name="path"/>.</summary>
    public static SharpLensException Describe(SqliteException e, string path, string action) => e.SqliteErrorCode switch
    {
        13 => new SharpLensException($"could not {action} {path}: the disk is full; the database keeps its last checkpoint: free space and run again to resume", e),
        8 => new SharpLensException($"could not {action} {path}: it is read-only: choose a writable --out or fix its permissions", e),
        14 => new SharpLensException($"could not {action} {path}: the file cannot be opened or created: check the folder exists and is writable", e),
        26 or 11 => new SharpLensException($"{path} is not a SharpLens neuron index (not an SQLite database, or corrupt): build one with sharplens neurons index", e),
        5 or 6 => new SharpLensException($"{path} is locked by another process: wait for it to finish", e),
        _ => new SharpLensException($"could not {action} {path}: {e.Message.Split('\n')[0]}", e),
    };
}
