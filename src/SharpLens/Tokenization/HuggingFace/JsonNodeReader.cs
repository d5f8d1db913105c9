using System.Text.Json;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// Reads one object of a tokenizer file, knowing its path ("pre_tokenizer.pretokenizers[0]"), so that every problem is
/// one line naming the file, the field and what is wrong with it.
/// </summary>
internal readonly struct JsonNodeReader(JsonElement element, string path, string file)
{
    /// <summary>The element read.</summary>
    public JsonElement Element => element;
    /// <summary>The element's path in the file.</summary>
    public string Path => path;
    /// <summary>The file's name, for messages.</summary>
    public string File => file;
    /// <summary>Whether the element is JSON null (or absent).</summary>
    public bool IsNull => element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>The root object of a parsed file.</summary>
    public static JsonNodeReader Root(JsonDocument doc, string file)
    {
        var root = new JsonNodeReader(doc.RootElement, "", file);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw root.Error($"the top level must be an object, not {Kind(doc.RootElement)}");
        return root;
    }

    /// <summary>A one-line error about this element: "file: path: problem".</summary>
    public InvalidInputException Error(string problem) => new($"{file}: {(path.Length == 0 ? "" : path + ": ")}{problem}");

    /// <summary>The error for a component SharpLens does not implement; token ids still work without a tokenizer.</summary>
    public InvalidInputException Unsupported(string kind, string type, string supported) => new(
        $"{file}: {path} is a {type} {kind}, which SharpLens does not read (it reads {supported}): give the model token ids (--tokens) instead of text");

    /// <summary>The object's "type".</summary>
    public string Type() => String("type");

    /// <summary>The field <paramref name="name"/>, which may be null or absent.</summary>
    public JsonNodeReader Field(string name)
    {
        RequireObject();
        var child = element.TryGetProperty(name, out var value) ? value : default;
        return new JsonNodeReader(child, Join(name), file);
    }

    /// <summary>A required string field.</summary>
    public string String(string name) => OptionalString(name) ?? throw Field(name).Error("is missing: it must be a string");

    /// <summary>A string field, or null when it is null or absent.</summary>
    public string? OptionalString(string name)
    {
        var f = Field(name);
        if (f.IsNull) return null;
        return f.Element.ValueKind == JsonValueKind.String ? f.Element.GetString()! : throw f.Error($"must be a string, not {Kind(f.Element)}");
    }

    /// <summary>A boolean field, <paramref name="fallback"/> when null or absent.</summary>
    public bool Bool(string name, bool fallback)
    {
        var f = Field(name);
        return f.IsNull ? fallback
            : f.Element.ValueKind is JsonValueKind.True or JsonValueKind.False ? f.Element.GetBoolean()
            : throw f.Error($"must be true or false, not {Kind(f.Element)}");
    }

    /// <summary>This element as a non-negative integer (a token id or count).</summary>
    public int AsId() => element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int v) && v >= 0 ? v
        : throw Error($"must be a non-negative integer, not {Kind(element)}");

    /// <summary>A required non-negative integer field.</summary>
    public int Id(string name) => Field(name) is { IsNull: false } f ? f.AsId() : throw Field(name).Error("is missing: it must be a non-negative integer");

    /// <summary>This element as a string.</summary>
    public string AsString() => element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Error($"must be a string, not {Kind(element)}");

    /// <summary>The items of a required array field.</summary>
    public IEnumerable<JsonNodeReader> Array(string name)
    {
        var f = Field(name);
        if (f.Element.ValueKind != JsonValueKind.Array) throw f.Error(f.IsNull ? "is missing: it must be a list" : $"must be a list, not {Kind(f.Element)}");
        return f.Items();
    }

    /// <summary>The items of this array element.</summary>
    public IEnumerable<JsonNodeReader> Items()
    {
        if (element.ValueKind != JsonValueKind.Array) throw Error($"must be a list, not {Kind(element)}");
        string p = path, fl = file;
        return element.EnumerateArray().Select((e, i) => new JsonNodeReader(e, $"{p}[{i}]", fl)).ToList();
    }

    /// <summary>The members of this object element.</summary>
    public IEnumerable<(string Name, JsonNodeReader Value)> Members()
    {
        RequireObject();
        string p = path, fl = file;
        return element.EnumerateObject().Select(m => (m.Name, new JsonNodeReader(m.Value, p.Length == 0 ? m.Name : $"{p}.{m.Name}", fl))).ToList();
    }

    /// <summary>A pattern field: <c>{"String": "..."}</c> or <c>{"Regex": "..."}</c>.</summary>
    public TextPattern Pattern(string name)
    {
        var f = Field(name);
        if (f.Element.ValueKind != JsonValueKind.Object) throw f.Error("must be {\"String\": ...} or {\"Regex\": ...}");
        if (f.OptionalString("String") is string literal) return new TextPattern(literal);
        if (f.OptionalString("Regex") is string pattern) return new TextPattern(f.Field("Regex").Regex(pattern));
        throw f.Error("must be {\"String\": ...} or {\"Regex\": ...}");
    }

    /// <summary><paramref name="pattern"/> (this element's value) compiled, or an error naming the field.</summary>
    public CodePointRegex Regex(string pattern)
    {
        try { return new CodePointRegex(pattern); }
        catch (ArgumentException e) { throw Error($"{Tokenizer.Quote(pattern)} is not a regular expression SharpLens can run ({e.Message.Split('\n')[0].Trim()})"); }
    }

    private void RequireObject()
    {
        if (element.ValueKind != JsonValueKind.Object) throw Error(IsNull ? "is missing: it must be an object" : $"must be an object, not {Kind(element)}");
    }

    private string Join(string name) => path.Length == 0 ? name : $"{path}.{name}";

    /// <summary>How a JSON value is named in messages.</summary>
    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object", JsonValueKind.Array => "a list", JsonValueKind.String => $"the string {Tokenizer.Quote(e.GetString()!)}",
        JsonValueKind.Number => $"the number {e.GetRawText()}", JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Undefined => "nothing", _ => "null",
    };
}
