using System.Text;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// GPT-2's reversible map between bytes and printable characters (<c>bytes_to_unicode</c>), which byte-level BPE
/// vocabularies are written in: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 onwards
/// (a space is "Ġ", a newline "Ċ").
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            map[b] = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? (char)b : (char)next++;
        return map;
    }

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary><paramref name="text"/>'s UTF-8 bytes, each written as its character.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, (chars, source) =>
        {
            for (int i = 0; i < source.Length; i++) chars[i] = ByteToChar[source[i]];
        });
    }

    /// <summary>The bytes a byte-level token stands for, or null when a character of it is outside the alphabet
    /// (added tokens such as "&lt;|endoftext|&gt;" are written as themselves).</summary>
    public static byte[]? TryDecode(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            if (!CharToByte.TryGetValue(token[i], out bytes[i])) return null;
        return bytes;
    }
}
