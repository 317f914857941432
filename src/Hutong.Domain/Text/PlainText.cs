using System.Text;

namespace Hutong.Domain.Text;

/// <summary>
/// The one rule for merchant-supplied text that someone reads (a payment description on the wallet's sheet, a refund
/// reason, a friend-pay note, a link title in the share text, a host's name, metadata values) and for identifiers that
/// must look like what they are (URLs, account ids): what is stored is what is shown, with nothing hidden or reordered.
/// </summary>
public static class PlainText
{
    /// <summary>What a refused text is told, after the field's name.</summary>
    public const string Refusal =
        "must not contain control characters (NUL, line breaks, tabs, U+2028/U+2029), bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9), invisible characters (zero-width space U+200B, word joiner U+2060, byte order mark U+FEFF) or unpaired surrogates.";

    /// <summary>
    /// False for text that would render differently from what is recorded: C0/C1 controls (NUL ends strings in some
    /// wallet back ends; CR/LF split form-encoded lines and share texts), the line/paragraph separators U+2028/U+2029
    /// (line breaks to a renderer and to JavaScript), bidi controls that reorder what the reader sees (U+061C, U+200E/F,
    /// U+202A-E, U+2066-9), invisible format characters that make two different texts look alike (U+180E, U+200B,
    /// U+2060-4, U+206A-F, U+FEFF, U+FFF9-B), and unpaired surrogates (not encodable in UTF-8). The zero-width (non-)joiners
    /// U+200C/U+200D stay allowed: emoji sequences and Persian/Indic scripts need them, and they reorder nothing.
    /// </summary>
    public static bool IsPrintable(string s)
    {
        var rest = s.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var used) != System.Buffers.OperationStatus.Done || IsForbidden(rune))
            {
                return false;
            }

            rest = rest[used..];
        }

        return true;
    }

    /// <summary>
    /// <see cref="IsPrintable"/> and no whitespace at all: for values that are one token (a URL, an account id), where a
    /// space or a trailing newline is never part of what the merchant meant.
    /// </summary>
    public static bool IsToken(string s) => IsPrintable(s) && !s.Any(char.IsWhiteSpace);

    private static bool IsForbidden(Rune rune) =>
        Rune.IsControl(rune) || rune.Value is 0x061C or 0x180E or 0x200B or 0x200E or 0x200F or 0x2028 or 0x2029
            or (>= 0x202A and <= 0x202E) or (>= 0x2060 and <= 0x2064) or (>= 0x2066 and <= 0x206F) or 0xFEFF or (>= 0xFFF9 and <= 0xFFFB);
}
