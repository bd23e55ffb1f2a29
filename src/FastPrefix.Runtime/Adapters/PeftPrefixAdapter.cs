using Encoder = FastPrefix.Model.Encoder;
using System.Text.Encodings.Web;
using System.Text.Json;
using FastPrefix.Backends;
using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Adapters;

/// <summary>Choices for <see cref="PeftPrefixAdapter.Import"/> that a PEFT folder may not record.</summary>
public sealed record PeftImportOptions
{
    /// <summary>The task, when adapter_config.json's task_type does not say (null, FEATURE_EXTRACTION, ...) or to override it.</summary>
    public TaskKind? Task { get; init; }
    /// <summary>Label names for the imported metadata (PEFT folders do not hold them).</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    /// <summary>Position numbering; default: what the folder's FastPrefix metadata records, else after-prefix (what PEFT on BERT/RoBERTa does).</summary>
    public PositionMode? Positions { get; init; }
    /// <summary>Fingerprint of the backbone being loaded onto, checked against the folder's FastPrefix metadata when both are known.</summary>
    public string? BackboneFingerprint { get; init; }
    /// <summary>Dropout options of the imported model (positions come from <see cref="Positions"/>).</summary>
    public PTuningOptions? Overrides { get; init; }
}

/// <summary>
/// Hugging Face PEFT prefix-tuning adapters (peft_type "PREFIX_TUNING"): a folder with adapter_config.json and
/// adapter_model.safetensors.
/// <para>
/// What PEFT writes (peft src/peft/utils/save_and_load.py, get_peft_model_state_dict; tuners/prefix_tuning):
/// the prefix is one tensor named <c>prompt_embeddings</c>, [num_virtual_tokens, num_layers·2·token_dim] — for
/// prefix_projection = true it is the MLP's output (get_prompt_embedding_to_save runs the prefix encoder), so the
/// file always holds the bank itself, and loading it with inference_mode builds a plain embedding. A row is
/// view(num_layers·2, heads, head_dim) (peft_model.get_prompt), i.e. view(L, 2, H, D): layer-major, key before value —
/// FastPrefix's [L, 2, H, P, D] bank with the P axis moved to the front. The task head is saved through
/// modules_to_save: PeftModelForSequenceClassification / ForTokenClassification wrap "classifier" (and "score"),
/// ForQuestionAnswering "qa_outputs"; in a prompt-learning PeftModel the transformers model is <c>base_model</c> itself
/// (no tuner wrapper), and the ModulesToSaveWrapper's "modules_to_save.&lt;adapter&gt;." part is dropped on save, so the keys
/// are <c>base_model.classifier.weight</c> / <c>.bias</c> and <c>base_model.qa_outputs.weight</c> / <c>.bias</c>. Older
/// PEFT versions reach the same names (they strip "modules_to_save." and then ".default"). Import also accepts
/// "base_model.model.*" (tuner-wrapped models), unstripped "*.modules_to_save.&lt;adapter&gt;.*" and bare "classifier.*".
/// RobertaForSequenceClassification's head is dense → tanh → out_proj on the first token
/// (<c>classifier.dense.*</c>, <c>classifier.out_proj.*</c>), which is FastPrefix's pooler → classifier when dense is the
/// frozen pooler: export writes the pooler there, import requires it to be the backbone's pooler.
/// </para>
/// <para>
/// Positions: PEFT passes the prefix as past_key_values and drops position_ids, and in transformers 4.x
/// BertEmbeddings takes position_ids[past_key_values_length : past_key_values_length + T] while RoBERTa's
/// create_position_ids_from_input_ids adds past_key_values_length to the cumulative sum — so a PEFT prefix-tuned
/// BERT/RoBERTa numbers real tokens after the P prefix positions, FastPrefix's <see cref="PositionMode.AfterPrefix"/>
/// (the original P-Tuning v2 code behaves the same way). Import records that unless the folder's FastPrefix metadata
/// (written by <see cref="Export"/>) or the options say otherwise. An adapter trained with from-zero positions and
/// exported will therefore not reproduce its logits under PEFT + transformers 4.x; FastPrefix reads its own recorded mode back.
/// </para>
/// <para>
/// PEFT has no multiple-choice task type: such adapters are exported with task_type null and "classifier" in
/// modules_to_save, and import needs the FastPrefix metadata or <see cref="PeftImportOptions.Task"/>.
/// A prefix that starts above layer 0 (FirstLayer &gt; 0) cannot be expressed: PEFT prefixes every layer.
/// </para>
/// </summary>
public static class PeftPrefixAdapter
{
    public const string WeightsFileName = "adapter_model.safetensors";
    public const string ConfigFileName = "adapter_config.json";
    public const string PromptEmbeddingsName = "prompt_embeddings";
    public const string PeftType = "PREFIX_TUNING";

    static readonly (TaskKind Kind, string Name)[] TaskTypes =
    [
        (TaskKind.SequenceClassification, "SEQ_CLS"), (TaskKind.TokenClassification, "TOKEN_CLS"), (TaskKind.QuestionAnswering, "QUESTION_ANS"),
    ];

    /// <summary>PEFT's task_type for a task, or null where PEFT has none (multiple choice).</summary>
    public static string? TaskTypeName(TaskKind kind) => TaskTypes.FirstOrDefault(t => t.Kind == kind).Name;

    // ---------------------------------------------------------------- export

    /// <summary>
    /// Writes <paramref name="folder"/>/adapter_model.safetensors (prompt_embeddings [P, L·2·hidden] F32 — an MLP prefix
    /// folded into the bank it computes — plus the head under PEFT's names and FastPrefix's metadata) and
    /// adapter_config.json, each atomically. The folder is created if missing.
    /// </summary>
    public static void Export(string folder, PTuningModel model, AdapterMetadata meta, string? baseModelName)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(meta);
        string full = Path.GetFullPath(folder);
        AdapterFile.CheckSingleTask(full, model);
        var prefix = model.Prefix;
        if (prefix.FirstLayer > 0)
            throw new AdapterException($"{full}: the prefix starts at layer {prefix.FirstLayer} (first_layer {prefix.FirstLayer}), which PEFT prefix tuning " +
                                       $"cannot represent: it puts a prefix in every layer (num_layers = num_hidden_layers {model.Config.NumLayers}). " +
                                       "Save it as a FastPrefix adapter file instead");
        AdapterFile.CheckDescribes(full, model, meta);

        var c = model.Config;
        int P = prefix.PrefixLen, L = prefix.Layers, H = c.NumHeads, D = c.HeadDim, C = c.HiddenSize;
        var peftBank = ToPeftLayout(prefix.DownloadBank(), P, L, H, D);

        string module = AdapterFile.HeadModule(model.Head.Kind);
        var entries = new List<SafetensorsEntry> { SafetensorsEntry.FromFloat32(PromptEmbeddingsName, peftBank, P, (long)L * 2 * C) };
        var w = model.Head.Weight; var b = model.Head.Bias;
        if (UsesRobertaClassificationHead(c, model.Head.Kind))
        {
            var weights = model.Encoder.Weights;
            if (weights.PoolerWeight == null || weights.PoolerBias == null)
                throw new AdapterException($"{full}: RobertaForSequenceClassification's head needs classifier.dense, which FastPrefix takes from the pooler, but the backbone has no pooler");
            entries.Add(SafetensorsEntry.FromFloat32($"base_model.{module}.dense.weight", Download(weights.PoolerWeight), C, C));
            entries.Add(SafetensorsEntry.FromFloat32($"base_model.{module}.dense.bias", Download(weights.PoolerBias), C));
            entries.Add(SafetensorsEntry.FromFloat32($"base_model.{module}.out_proj.weight", w.Download(), w.Shape[0], w.Shape[1]));
            entries.Add(SafetensorsEntry.FromFloat32($"base_model.{module}.out_proj.bias", b.Download(), b.Shape[0]));
        }
        else
        {
            entries.Add(SafetensorsEntry.FromFloat32($"base_model.{module}.weight", w.Download(), w.Shape[0], w.Shape[1]));
            entries.Add(SafetensorsEntry.FromFloat32($"base_model.{module}.bias", b.Download(), b.Shape[0]));
        }

        // The bank is what PEFT stores, so the exported adapter is a plain one whatever it was trained as.
        var exported = meta with { Reparameterization = PrefixReparameterization.None, PrefixProjectionHidden = 0 };
        var metadata = new Dictionary<string, string>(exported.ToDictionary(full)) { ["format"] = "pt" };

        Directory.CreateDirectory(full);
        SafetensorsWriter.Write(Path.Combine(full, WeightsFileName), entries, metadata);
        AtomicFile.WriteAllText(Path.Combine(full, ConfigFileName), ConfigJson(model, baseModelName, module));
    }

    /// <summary>adapter_config.json as PEFT writes it (keys sorted, two-space indent).</summary>
    static string ConfigJson(PTuningModel model, string? baseModelName, string module)
    {
        var c = model.Config;
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNull("auto_mapping");
            if (baseModelName == null) json.WriteNull("base_model_name_or_path"); else json.WriteString("base_model_name_or_path", baseModelName);
            json.WriteNumber("encoder_hidden_size", c.HiddenSize);
            json.WriteBoolean("inference_mode", true);
            json.WriteStartArray("modules_to_save"); json.WriteStringValue(module); json.WriteEndArray();
            json.WriteNumber("num_attention_heads", c.NumHeads);
            json.WriteNumber("num_layers", c.NumLayers);
            json.WriteNumber("num_transformer_submodules", 1);
            json.WriteNumber("num_virtual_tokens", model.Prefix.PrefixLen);
            json.WriteString("peft_type", PeftType);
            json.WriteBoolean("prefix_projection", false);
            json.WriteNull("revision");
            var taskType = TaskTypeName(model.Head.Kind);
            if (taskType == null) json.WriteNull("task_type"); else json.WriteString("task_type", taskType);
            json.WriteNumber("token_dim", c.HiddenSize);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    // ---------------------------------------------------------------- import

    /// <summary>Reads a PEFT prefix-tuning folder into a model with a <see cref="PlainPrefix"/> on <paramref name="encoder"/>.</summary>
    public static PTuningModel Import(string folder, Encoder encoder, PeftImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        options ??= new PeftImportOptions();
        var contents = Read(folder, encoder, options);
        AdapterFile.CheckBackbone(contents.Source, contents.Metadata.BaseModelConfig, encoder.Config,
            contents.Metadata.BaseModelFingerprint, options.BackboneFingerprint);
        return AdapterFile.Build(contents, encoder, options.Overrides);
    }

    /// <summary>
    /// Reads and checks a PEFT folder against <paramref name="encoder"/>'s backbone, giving the FastPrefix view of it:
    /// tensors "prefix" [L, 2, H, P, D] and the head under FastPrefix names, and metadata (task, positions, ...).
    /// </summary>
    public static AdapterContents Read(string folder, Encoder encoder, PeftImportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(encoder);
        options ??= new PeftImportOptions();
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full)) throw new AdapterException($"{full}: PEFT adapter folder not found");
        string configPath = Path.Combine(full, ConfigFileName), weightsPath = Path.Combine(full, WeightsFileName);
        if (!File.Exists(configPath)) throw new AdapterException($"{full}: no {ConfigFileName} in the PEFT adapter folder");
        if (!File.Exists(weightsPath))
        {
            string hint = File.Exists(Path.Combine(full, "adapter_model.bin"))
                ? " (it has adapter_model.bin, a PyTorch pickle: re-save it with save_pretrained(safe_serialization=True))" : "";
            throw new AdapterException($"{full}: no {WeightsFileName} in the PEFT adapter folder{hint}");
        }

        var config = encoder.Config;
        var peft = PeftConfig.Load(configPath);
        var mismatches = new List<string>();
        void Compare(string key, int adapter, int model) { if (adapter != model) mismatches.Add($"{key} {adapter} (adapter) vs {model} (model)"); }
        Compare("num_layers", peft.NumLayers, config.NumLayers);
        Compare("token_dim", peft.TokenDim, config.HiddenSize);
        Compare("num_attention_heads", peft.NumHeads, config.NumHeads);
        if (mismatches.Count > 0)
            throw new AdapterException($"{configPath}: the adapter was trained on another backbone: {string.Join(", ", mismatches)}");

        SafetensorsFile file;
        try { file = SafetensorsFile.Open(weightsPath); }
        catch (SafetensorsException e) { throw new AdapterException($"cannot read PEFT adapter: {e.Message}", e); }
        using (file)
        {
            AdapterMetadata? ours = file.Metadata.Keys.Any(k => k.StartsWith(AdapterMetadata.KeyPrefix, StringComparison.Ordinal))
                ? AdapterMetadata.Parse(file.Metadata, weightsPath) : null;

            // ---- prefix
            int P = peft.NumVirtualTokens, L = config.NumLayers, H = config.NumHeads, D = config.HeadDim, C = config.HiddenSize;
            if (!file.Contains(PromptEmbeddingsName))
                throw new AdapterException($"{weightsPath}: tensor '{PromptEmbeddingsName}' is missing; a PEFT prefix-tuning adapter stores its prefix there " +
                                           $"([num_virtual_tokens {P}, num_layers·2·token_dim {(long)L * 2 * C}])");
            var info = file.GetInfo(PromptEmbeddingsName);
            if (!SafetensorsDTypes.IsFloat(info.DType))
                throw new AdapterException($"{weightsPath}: tensor '{PromptEmbeddingsName}' has dtype {SafetensorsDTypes.ToName(info.DType)}; expected a float dtype");
            if (info.Shape.Length != 2 || info.Shape[0] != P || info.Shape[1] != (long)L * 2 * C)
                throw new AdapterException($"{weightsPath}: tensor '{PromptEmbeddingsName}' has shape {info.ShapeText}, expected [{P}, {(long)L * 2 * C}] " +
                                           $"([num_virtual_tokens {P}, num_layers {L} · 2 · token_dim {C}])");
            var tensors = new Dictionary<string, (long[] Shape, float[] Data)>(StringComparer.Ordinal)
            {
                ["prefix"] = ([L, 2, H, P, D], FromPeftLayout(file.ReadFloat32(PromptEmbeddingsName), P, L, H, D)),
            };

            // ---- task
            TaskKind task;
            if (options.Task is { } t) task = t;
            else if (ours != null) task = ours.Task;
            else if (TaskTypes.FirstOrDefault(x => x.Name == peft.TaskType) is { Name: not null } m) task = m.Kind;
            else
                throw new AdapterException($"{configPath}: task_type {(peft.TaskType == null ? "null" : $"\"{peft.TaskType}\"")} does not name a task FastPrefix has a head for " +
                                           $"(SEQ_CLS, TOKEN_CLS, QUESTION_ANS); pass the task explicitly (PeftImportOptions.Task)");

            // ---- head
            string module = AdapterFile.HeadModule(task);
            var heads = HeadTensors(file, weightsPath);
            bool robertaHead = UsesRobertaClassificationHead(config, task)
                && (heads.ContainsKey($"{module}.out_proj.weight") || heads.ContainsKey($"{module}.dense.weight"));
            var wanted = robertaHead
                ? new[] { $"{module}.dense.weight", $"{module}.dense.bias", $"{module}.out_proj.weight", $"{module}.out_proj.bias" }
                : [$"{module}.weight", $"{module}.bias"];
            foreach (var name in wanted)
                if (!heads.ContainsKey(name))
                    throw new AdapterException($"{weightsPath}: no tensor for the {AdapterMetadata.TaskName(task)} head's '{name}' " +
                                               $"(looked for 'base_model.{name}' as PEFT's modules_to_save writes it, 'base_model.model.{name}' and '{name}'); " +
                                               $"tensors present: {string.Join(", ", file.Tensors.Select(x => x.Name))}");
            var extra = heads.Keys.Except(wanted).Order(StringComparer.Ordinal).ToList();
            if (extra.Count > 0)
                throw new AdapterException($"{weightsPath}: tensor{(extra.Count > 1 ? "s" : "")} {string.Join(", ", extra.Select(e => $"'{heads[e]}'"))} " +
                                           $"cannot be imported: FastPrefix trains only the prefix and the {AdapterMetadata.TaskName(task)} head ({string.Join(", ", wanted)})");
            (long[], float[]) ReadHead(string name)
            {
                var key = heads[name];
                var i = file.GetInfo(key);
                if (!SafetensorsDTypes.IsFloat(i.DType))
                    throw new AdapterException($"{weightsPath}: tensor '{key}' has dtype {SafetensorsDTypes.ToName(i.DType)}; expected a float dtype");
                return ((long[])i.Shape.Clone(), file.ReadFloat32(key));
            }
            if (robertaHead)
            {
                CheckDenseIsPooler(weightsPath, encoder, heads[$"{module}.dense.weight"], ReadHead($"{module}.dense.weight"), Pooler(encoder, weight: true), [C, C]);
                CheckDenseIsPooler(weightsPath, encoder, heads[$"{module}.dense.bias"], ReadHead($"{module}.dense.bias"), Pooler(encoder, weight: false), [C]);
                tensors[$"{module}.weight"] = ReadHead($"{module}.out_proj.weight");
                tensors[$"{module}.bias"] = ReadHead($"{module}.out_proj.bias");
            }
            else
            {
                tensors[$"{module}.weight"] = ReadHead($"{module}.weight");
                tensors[$"{module}.bias"] = ReadHead($"{module}.bias");
            }

            var meta = new AdapterMetadata
            {
                BaseModelConfig = ours?.BaseModelConfig ?? config.ToCanonicalJson(),
                BaseModelFingerprint = ours?.BaseModelFingerprint ?? "",
                Task = task,
                Labels = options.Labels ?? (ours != null && ours.Task == task ? ours.Labels : []),
                PrefixLength = P,
                FirstLayer = 0,
                Positions = options.Positions ?? ours?.Positions ?? PositionMode.AfterPrefix,
                Reparameterization = PrefixReparameterization.None,
                PrefixProjectionHidden = 0,
                MaxSeqLength = ours?.MaxSeqLength ?? 0,
                TokenizerKind = ours?.TokenizerKind ?? "",
                Extra = ours?.Extra ?? new Dictionary<string, string>(),
            };
            meta.Validate(weightsPath);
            return AdapterFile.Validate(weightsPath, meta, tensors);
        }
    }

    /// <summary>Head tensors of a PEFT file by FastPrefix-style name ("classifier.weight", "classifier.out_proj.bias", ...) → key in the file.</summary>
    static Dictionary<string, string> HeadTensors(SafetensorsFile file, string source)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var info in file.Tensors)
        {
            if (info.Name == PromptEmbeddingsName) continue;
            string name = info.Name;
            if (name.StartsWith("base_model.model.", StringComparison.Ordinal)) name = name["base_model.model.".Length..];
            else if (name.StartsWith("base_model.", StringComparison.Ordinal)) name = name["base_model.".Length..];
            // unstripped ModulesToSaveWrapper keys: <module>.modules_to_save.<adapter>.<rest>
            int at = name.IndexOf(".modules_to_save.", StringComparison.Ordinal);
            if (at >= 0)
            {
                var rest = name[(at + ".modules_to_save.".Length)..];
                int dot = rest.IndexOf('.');
                name = dot < 0 ? name : name[..at] + rest[dot..];
            }
            if (!result.TryAdd(name, info.Name))
                throw new AdapterException($"{source}: tensors '{result[name]}' and '{info.Name}' both hold '{name}'; expected one");
        }
        return result;
    }

    static bool UsesRobertaClassificationHead(EncoderConfig config, TaskKind kind) => config.IsRoberta && kind == TaskKind.SequenceClassification;

    static float[] Pooler(Encoder encoder, bool weight)
    {
        var t = weight ? encoder.Weights.PoolerWeight : encoder.Weights.PoolerBias;
        if (t == null) throw new AdapterException("the backbone has no pooler, which FastPrefix needs for a RoBERTa classification head");
        return Download(t);
    }

    static void CheckDenseIsPooler(string source, Encoder encoder, string key, (long[] Shape, float[] Data) dense, float[] pooler, long[] shape)
    {
        if (!dense.Shape.AsSpan().SequenceEqual(shape))
            throw new AdapterException($"{source}: tensor '{key}' has shape {AdapterFile.ShapeText(dense.Shape)}, expected {AdapterFile.ShapeText(shape)}");
        double scale = Math.Max(pooler.Max(v => Math.Abs((double)v)), 1e-6), worst = 0;
        for (int i = 0; i < pooler.Length; i++) worst = Math.Max(worst, Math.Abs((double)dense.Data[i] - pooler[i]));
        if (!(worst / scale <= 1e-5))
            throw new AdapterException($"{source}: tensor '{key}' differs from the backbone's pooler (max relative difference {worst / scale:G3}); " +
                                       "FastPrefix's RoBERTa classification head is the frozen pooler plus a trained classifier, so a trained classifier.dense cannot be imported");
    }

    static float[] Download(Tensor t)
    {
        var data = new float[t.Length];
        t.Backend.Download(t, data);
        return data;
    }

    /// <summary>[L, 2, H, P, D] → [P, L, 2, H, D] (a PEFT prompt_embeddings matrix [P, L·2·H·D]).</summary>
    internal static float[] ToPeftLayout(float[] bank, int P, int L, int H, int D)
    {
        var result = new float[bank.Length];
        int slices = L * 2 * H;
        for (int s = 0; s < slices; s++)
            for (int p = 0; p < P; p++)
                Array.Copy(bank, ((long)s * P + p) * D, result, ((long)p * slices + s) * D, D);
        return result;
    }

    /// <summary>[P, L, 2, H, D] → [L, 2, H, P, D].</summary>
    internal static float[] FromPeftLayout(float[] peft, int P, int L, int H, int D)
    {
        var result = new float[peft.Length];
        int slices = L * 2 * H;
        for (int s = 0; s < slices; s++)
            for (int p = 0; p < P; p++)
                Array.Copy(peft, ((long)p * slices + s) * D, result, ((long)s * P + p) * D, D);
        return result;
    }

    /// <summary>The fields of adapter_config.json that import uses.</summary>
    sealed record PeftConfig(int NumVirtualTokens, int NumLayers, int TokenDim, int NumHeads, string? TaskType)
    {
        public static PeftConfig Load(string path)
        {
            using (var doc = StrictJson.ParseFile(path, p => new AdapterException($"{path}{(p.Line is int l ? $":{l}" : "")}: {p.WithPath}")))
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new AdapterException($"{path}: expected a JSON object");
                string? Str(string key)
                {
                    if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                    if (v.ValueKind != JsonValueKind.String) throw new AdapterException($"{path}: \"{key}\" must be a string, got {v.GetRawText()}");
                    return v.GetString();
                }
                int Int(string key, int? fallback = null)
                {
                    if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
                        return fallback ?? throw new AdapterException($"{path}: missing \"{key}\" (a positive integer)");
                    if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i) || i <= 0)
                        throw new AdapterException($"{path}: \"{key}\" must be a positive integer, got {v.GetRawText()}");
                    return i;
                }
                var type = Str("peft_type");
                if (type != PeftType)
                    throw new AdapterException($"{path}: peft_type is {(type == null ? "missing" : $"\"{type}\"")}; expected \"{PeftType}\" (FastPrefix imports prefix-tuning adapters only)");
                int submodules = Int("num_transformer_submodules", 1);
                if (submodules != 1)
                    throw new AdapterException($"{path}: num_transformer_submodules is {submodules}; expected 1 (an encoder-only model; encoder-decoder prefixes are not supported)");
                return new PeftConfig(Int("num_virtual_tokens"), Int("num_layers"), Int("token_dim"), Int("num_attention_heads"), Str("task_type"));
            }
        }
    }
}
