namespace Hutong.Collab.Ids;

/// <summary>
/// How raw ids are normalised before they are hashed to the group. Both parties of a job must use the same rule; its
/// <see cref="IdRuleExtensions.Name"/> is part of the hash's domain tag and is recorded with the job, so ids normalised
/// by different rules can never match by accident.
/// </summary>
public enum IdRule
{
    /// <summary>
    /// Mobile numbers to E.164. Spaces, hyphens, dots and parentheses are removed. A CN mobile number (11 digits, first
    /// digit 1, second 3–9) with or without +86 / 0086 / 86 becomes +86XXXXXXXXXXX; any other number must already be
    /// written +CC… (8–15 digits, ITU-T E.164 §6.1) and is kept as it is. Landlines and short codes are refused.
    /// </summary>
    Phone,

    /// <summary>
    /// Device ids (IDFA, OAID, Android id…): trimmed, hyphens removed, lower-case hex of 8–64 digits. An all-zero id
    /// (the placeholder iOS and Android report when ad tracking is limited) is refused: it would match every such user.
    /// </summary>
    DeviceId,

    /// <summary>Any other id agreed by both parties: trimmed, 1–256 characters, no control characters, compared exactly.</summary>
    Opaque,
}

public static class IdRuleExtensions
{
    /// <summary>The versioned rule name recorded per job and mixed into the hash-to-group domain tag.</summary>
    public static string Name(this IdRule rule) => rule switch
    {
        IdRule.Phone => "phone-e164-cn/v1",
        IdRule.DeviceId => "device-hex-lower/v1",
        IdRule.Opaque => "opaque-trim/v1",
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown id rule."),
    };
}
