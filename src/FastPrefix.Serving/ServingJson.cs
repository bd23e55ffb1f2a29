using System.Text.Json;
using System.Text.Json.Serialization;
using FastPrefix.Inference;

namespace FastPrefix.Serving;

// The HTTP bodies. They are what the OpenAPI description is generated from, and (through the source-generated
// context below, no reflection) how the endpoints read and write everything but the predictions themselves,
// which Prediction.WriteJson writes exactly as `fastprefix predict` prints them.

/// <summary>POST /v1/predict: items of (adapter name, record), answered in order.</summary>
public sealed record PredictRequest(IReadOnlyList<PredictRequestItem> Items, int? TimeoutMs = null);

/// <summary>One record for one adapter: the JSON object `fastprefix predict` reads from one line for that adapter's task.</summary>
public sealed record PredictRequestItem(string Adapter, JsonElement Input);

/// <summary>One result per item, in order: what `fastprefix predict` prints for that record.</summary>
public sealed record PredictResponse(IReadOnlyList<JsonElement> Results);

/// <summary>POST /v1/adapters/{name}: the adapter file or PEFT folder, relative to the server's adapter folder (default: NAME.safetensors, else folder NAME).</summary>
public sealed record LoadAdapterRequest(string? Path = null);

public sealed record AdapterList(IReadOnlyList<AdapterInfo> Adapters);

public sealed record Health(string Status, string Backend, int Adapters, int QueuedRecords);

/// <summary>Every error: {"error": {"code": "bad_input", "message": "items[0].input: missing field \"sentence\" …"}}.</summary>
public sealed record ErrorResponse(ErrorBody Error);

public sealed record ErrorBody(string Code, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PredictRequest))]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(LoadAdapterRequest))]
[JsonSerializable(typeof(AdapterInfo))]
[JsonSerializable(typeof(AdapterList))]
[JsonSerializable(typeof(Health))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class ServingJson : JsonSerializerContext;
