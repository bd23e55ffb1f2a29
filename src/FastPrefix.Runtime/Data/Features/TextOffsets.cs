namespace FastPrefix.Data.Features;

/// <summary>
/// Tokenizer offsets count Unicode code points (as Hugging Face's, i.e. Python's string indices); .NET strings
/// index UTF-16 units. The two differ after any character outside the Basic Multilingual Plane (emoji).
/// </summary>
public static class TextOffsets
{
    /// <summary>map[cp] = UTF-16 index of code point cp; map[count] = text.Length.</summary>
    public static int[] CodePointToUtf16(string text)
    {
        var map = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            map.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
        }
        map.Add(text.Length);
        return map.ToArray();
    }

    /// <summary>Converts code-point offsets to UTF-16 offsets of the same text.</summary>
    public static (int Start, int End)[] ToUtf16(string text, IReadOnlyList<(int Start, int End)> offsets)
    {
        var map = CodePointToUtf16(text);
        var result = new (int, int)[offsets.Count];
        for (int i = 0; i < offsets.Count; i++)
        {
            var (s, e) = offsets[i];
            result[i] = (map[Math.Min(s, map.Length - 1)], map[Math.Min(e, map.Length - 1)]);
        }
        return result;
    }
}
