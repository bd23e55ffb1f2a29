using System.Text.Json;

namespace FastPrefix.Tests.Support;

/// <summary>
/// Compares JSON documents value by value: strings, booleans and structure exactly, numbers within a tolerance
/// relative to max(1, |expected|). Predictions of one record computed in differently composed batches may differ in
/// the last float bits (the matrix products take other paths for other row counts), which can move a 6-decimal score.
/// </summary>
public static class JsonAssert
{
    public static void Close(string expected, string actual, double tolerance = 1e-5) =>
        Assert.True(IsClose(expected, actual, tolerance), $"JSON differs beyond {tolerance}:\nexpected {expected}\nactual   {actual}");

    public static void Close(IReadOnlyList<string> expected, IReadOnlyList<string> actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Close(expected[i], actual[i], tolerance);
    }

    public static bool IsClose(string expected, string actual, double tolerance = 1e-5)
    {
        using var e = JsonDocument.Parse(expected);
        using var a = JsonDocument.Parse(actual);
        return IsClose(e.RootElement, a.RootElement, tolerance);
    }

    static bool IsClose(JsonElement e, JsonElement a, double tol)
    {
        if (e.ValueKind != a.ValueKind) return false;
        switch (e.ValueKind)
        {
            case JsonValueKind.Number:
                double x = e.GetDouble(), y = a.GetDouble();
                return Math.Abs(x - y) <= tol * Math.Max(1, Math.Abs(x));
            case JsonValueKind.Object:
                var ep = e.EnumerateObject().ToList(); var ap = a.EnumerateObject().ToList();
                return ep.Count == ap.Count && ep.Zip(ap).All(p => p.First.Name == p.Second.Name && IsClose(p.First.Value, p.Second.Value, tol));
            case JsonValueKind.Array:
                return e.GetArrayLength() == a.GetArrayLength() && e.EnumerateArray().Zip(a.EnumerateArray()).All(p => IsClose(p.First, p.Second, tol));
            default:
                return e.GetRawText() == a.GetRawText();
        }
    }
}
