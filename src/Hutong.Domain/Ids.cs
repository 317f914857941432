using System.Security.Cryptography;

namespace Hutong.Domain;

/// <summary>
/// Prefixed, time-ordered identifiers (UUIDv7 in hex) so ids sort by creation time,
/// which keeps B-tree inserts local and makes cursor pagination a simple range scan.
/// </summary>
public static class Ids
{
    public const string Payment = "pay";
    public const string Attempt = "att";
    public const string Merchant = "mch";
    public const string Event = "evt";
    public const string WebhookEndpoint = "we";
    public const string Message = "msg";

    public static string New(string prefix) => $"{prefix}_{Guid.CreateVersion7():N}";

    public static string New(string prefix, DateTimeOffset at) => $"{prefix}_{Guid.CreateVersion7(at):N}";

    /// <summary>An unguessable token with at least 128 bits of entropy, URL safe.</summary>
    public static string Token(int bytes = 24) =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool HasPrefix(string? id, string prefix) =>
        id is not null && id.Length == prefix.Length + 33 && id.StartsWith(prefix + "_", StringComparison.Ordinal);
}
