using System.Security.Cryptography;
using System.Text;

namespace Hutong.Server.Storage;

/// <summary>
/// The version of a value stored whole as text (a rule list, a rule): "0" when nothing is stored, else the first 16 hex
/// digits of the SHA-256 of the text. An editor's form carries it and the save is conditional on it (optimistic
/// concurrency without a version column: the same text written again is the same version, which changes nothing).
/// </summary>
public static class TextVersion
{
    public const string None = "0";

    public static string Of(string? stored) => stored is null ? None : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(stored)))[..16];
}
