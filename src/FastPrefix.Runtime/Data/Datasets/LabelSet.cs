using System.Globalization;
using System.Numerics;

namespace FastPrefix.Data.Datasets;

/// <summary>The label vocabulary of a task.</summary>
public static class LabelSet
{
    /// <summary>
    /// The distinct labels in a deterministic order that does not depend on the order of the file:
    /// numeric order when every label is an integer ("-1", "0", "2", "10"), ordinal string order otherwise.
    /// </summary>
    public static IReadOnlyList<string> Build(IEnumerable<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        foreach (var l in labels)
        {
            if (l is null) throw new ArgumentException("labels contains null (expected label strings; unlabeled examples have no place in a label set).", nameof(labels));
            distinct.Add(l);
        }
        var numbers = new Dictionary<string, BigInteger>(StringComparer.Ordinal);
        foreach (var l in distinct)
        {
            if (!TryInteger(l, out var n))
                return distinct.Order(StringComparer.Ordinal).ToArray();
            numbers[l] = n;
        }
        return distinct.OrderBy(l => numbers[l]).ThenBy(l => l, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Whether a label is an integer ("-1", "0", "10") rather than a name.</summary>
    public static bool IsInteger(string label) => TryInteger(label, out _);

    static bool TryInteger(string label, out BigInteger n) =>
        BigInteger.TryParse(label, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n);
}
