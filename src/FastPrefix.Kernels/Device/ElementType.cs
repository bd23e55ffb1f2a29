namespace FastPrefix.Kernels.Device;

/// <summary>Element types of device arrays that GEMMs read and write.</summary>
public enum ElementType
{
    /// <summary>IEEE binary32.</summary>
    F32,
    /// <summary>bfloat16, stored as the upper 16 bits of a float32.</summary>
    BF16,
}

public static class ElementTypes
{
    public static int Size(this ElementType type) => type == ElementType.F32 ? 4 : 2;
}
