using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>Ends the session in the store (so the cookie is worthless even if kept) and clears the cookie.</summary>
[AnonymousConsolePage]
public sealed class SignOutModel(ConsoleAccounts accounts) : ConsolePageModel
{
    public override string Title => L.T("退出", "Sign out");

    public IActionResult OnGet() => LocalRedirect("/console/sign-in");

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (MaybeMe is { } me)
        {
            await accounts.SignOutAsync(me.Session, Ip, ct);
        }

        Response.Cookies.Delete(ConsoleFeature.CookieName, ConsoleFeature.SessionCookie(HttpContext, null));
        return LocalRedirect("/console/sign-in");
    }
}
