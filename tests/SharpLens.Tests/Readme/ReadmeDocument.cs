using System.Text;
using System.Text.RegularExpressions;

namespace SharpLens.Tests.Readme;

/// <summary>The repository's README.md split into its fenced code blocks, and shell blocks into commands.</summary>
public static partial class ReadmeDocument
{
    /// <summary>A fenced block: its language tag, its text and the README line its first text line is on.</summary>
    public sealed record CodeBlock(string Language, string Text, int FirstLine);

    /// <summary>One shell command (continuation lines and here-documents included) and the README line it starts on.</summary>
    public sealed record ShellCommand(string Text, int Line);

    /// <summary>The repository root: the nearest folder above the test binaries holding README.md and SharpLens.sln.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "README.md")) && File.Exists(Path.Combine(dir.FullName, "SharpLens.sln")))
                    return dir.FullName;
            throw new InvalidOperationException($"no repository root (README.md + SharpLens.sln) above {AppContext.BaseDirectory}");
        }
    }

    public static string ReadmePath => Path.Combine(RepoRoot, "README.md");

    /// <summary>Every fenced code block of <paramref name="markdown"/> whose language tag is one of <paramref name="languages"/>.</summary>
    public static IReadOnlyList<CodeBlock> Blocks(string markdown, params string[] languages)
    {
        var blocks = new List<CodeBlock>();
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var open = FenceRegex().Match(lines[i]);
            if (!open.Success) continue;
            string fence = open.Groups["fence"].Value, language = open.Groups["lang"].Value;
            int start = i + 1;
            int end = start;
            while (end < lines.Length && !lines[end].TrimStart().StartsWith(fence, StringComparison.Ordinal)) end++;
            if (languages.Contains(language, StringComparer.OrdinalIgnoreCase))
                blocks.Add(new CodeBlock(language, string.Join('\n', lines[start..Math.Min(end, lines.Length)]), start + 1));
            i = end;
        }
        return blocks;
    }

    /// <summary>
    /// The commands of a shell block: comments and blank lines dropped, lines ending in a backslash joined with the
    /// next, and a here-document (<c>&lt;&lt;'EOF'</c>) kept with its body up to the terminator.
    /// </summary>
    public static IReadOnlyList<ShellCommand> Commands(CodeBlock block)
    {
        var commands = new List<ShellCommand>();
        var lines = block.Text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith('#')) continue;
            int first = i;
            var text = new StringBuilder(line);
            while (text.ToString().EndsWith('\\') && i + 1 < lines.Length) text.Append('\n').Append(lines[++i]);
            var heredoc = HeredocRegex().Match(text.ToString());
            if (heredoc.Success)
            {
                string terminator = heredoc.Groups["word"].Value;
                while (i + 1 < lines.Length)
                {
                    text.Append('\n').Append(lines[++i]);
                    if (lines[i].Trim() == terminator) break;
                }
            }
            commands.Add(new ShellCommand(text.ToString(), block.FirstLine + first));
        }
        return commands;
    }

    /// <summary>Splits a command line into words as the shell would for plain quoting and comments (no expansions).</summary>
    public static IReadOnlyList<string> Words(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else word.Append(c);
            }
            else if (c is '\'' or '"') { quote = c; inWord = true; }
            else if (c == '#' && !inWord) { while (i + 1 < command.Length && command[i + 1] != '\n') i++; }
            else if (c == '\\' && i + 1 < command.Length) { if (command[++i] != '\n') word.Append(command[i]); else if (inWord) Flush(); }
            else if (char.IsWhiteSpace(c)) { if (inWord) Flush(); }
            else { word.Append(c); inWord = true; }
        }
        if (inWord) Flush();
        return words;

        void Flush() { words.Add(word.ToString()); word.Clear(); inWord = false; }
    }

    [GeneratedRegex(@"^\s*(?<fence>```+|~~~+)\s*(?<lang>[\w#+-]*)")]
    private static partial Regex FenceRegex();

    [GeneratedRegex(@"<<-?\s*['""]?(?<word>\w+)['""]?")]
    private static partial Regex HeredocRegex();
}
