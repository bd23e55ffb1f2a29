namespace FastPrefix.IO;

/// <summary>Element types of a safetensors tensor that FastPrefix reads and writes (little-endian).</summary>
public enum SafetensorsDType
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}

/// <summary>Sizes and header names of <see cref="SafetensorsDType"/> values.</summary>
public static class SafetensorsDTypes
{
    /// <summary>The dtypes in declaration order; used to list the accepted names in error messages.</summary>
    internal static readonly SafetensorsDType[] All = Enum.GetValues<SafetensorsDType>();

    internal static string AllNames { get; } = string.Join(", ", All.Select(ToName));

    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a SafetensorsDType"),
    };

    /// <summary>The name used in the header: "F32", "BF16", "BOOL", ...</summary>
    public static string ToName(SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.I64 => "I64",
        SafetensorsDType.I32 => "I32",
        SafetensorsDType.I16 => "I16",
        SafetensorsDType.I8 => "I8",
        SafetensorsDType.U8 => "U8",
        SafetensorsDType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a SafetensorsDType"),
    };

    /// <summary>Parses a header dtype name; exact, case-sensitive, as the format defines them.</summary>
    public static bool TryParse(string? s, out SafetensorsDType t)
    {
        switch (s)
        {
            case "F64": t = SafetensorsDType.F64; return true;
            case "F32": t = SafetensorsDType.F32; return true;
            case "F16": t = SafetensorsDType.F16; return true;
            case "BF16": t = SafetensorsDType.BF16; return true;
            case "I64": t = SafetensorsDType.I64; return true;
            case "I32": t = SafetensorsDType.I32; return true;
            case "I16": t = SafetensorsDType.I16; return true;
            case "I8": t = SafetensorsDType.I8; return true;
            case "U8": t = SafetensorsDType.U8; return true;
            case "BOOL": t = SafetensorsDType.BOOL; return true;
            default: t = default; return false;
        }
    }

    internal static bool IsDefined(SafetensorsDType t) => (uint)t <= (uint)SafetensorsDType.BOOL;

    internal static bool IsFloat(SafetensorsDType t) =>
        t is SafetensorsDType.F64 or SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16;
}
