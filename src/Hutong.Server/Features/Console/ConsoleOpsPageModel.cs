using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console;

/// <summary>
/// A money, developer or operations page: it acts for one merchant — the user's own, or for an operator the one named
/// by ?merchant= (operators see hub-wide lists where a page has them).
/// </summary>
public abstract class ConsoleOpsPageModel : ConsolePageModel
{
    [BindProperty(SupportsGet = true, Name = "merchant")]
    public string? MerchantParam { get; set; }

    /// <summary>The merchant this page shows and acts for; null for an operator who named none.</summary>
    public string? MerchantId => Me.Scope ?? (MerchantParam is { Length: > 0 and <= 64 } m ? m.Trim() : null);

    public string NewKey => "console-" + Hutong.Domain.Ids.Token(12);

    /// <summary>The query string that keeps an operator's merchant across links ("" for merchant users).</summary>
    public string MerchantQuery => Me.Scope is null && MerchantId is { } m ? "merchant=" + Uri.EscapeDataString(m) : string.Empty;

    public long NowMs(TimeProvider time) => time.GetUtcNow().ToUnixTimeMilliseconds();
}
