using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hutong.Server;

/// <summary>
/// The hub's one JSON format — the merchant API, the events in the outbox, stored JSON columns: snake_case, nulls
/// omitted, enums as snake_case strings. In the root namespace because every layer uses it (Storage must not depend on Http).
/// </summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        o.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        o.DictionaryKeyPolicy = null;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        o.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        o.NumberHandling = JsonNumberHandling.Strict; // "100" is not an amount
        // {"amount":100,"amount":999999} is refused, not "last one wins": a proxy or signer that reads the first would
        // see a different request from the one we execute.
        o.AllowDuplicateProperties = false;
        return o;
    }

    /// <summary>Options for reading a request body: <see cref="Options"/>, and no NUL in any text (<see cref="NoNulString"/>).</summary>
    public static readonly JsonSerializerOptions RequestOptions = new(Options) { Converters = { new NoNulString() } };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>
    /// Refuses U+0000 in any string of a request: PostgreSQL's text cannot hold it (22021, a 500 where a 400 belongs) and
    /// several wallets' back ends end strings there. Other control characters are the fields' own validators' business.
    /// </summary>
    public sealed class NoNulString : JsonConverter<string>
    {
        public const string Message = "Text may not contain the NUL character (\\u0000).";

        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException(); // the serializer's own "could not be converted", with the path
            }

            var s = reader.GetString()!;
            return s.Contains('\0', StringComparison.Ordinal) ? throw new JsonException(Message) : s;
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
    }
}
