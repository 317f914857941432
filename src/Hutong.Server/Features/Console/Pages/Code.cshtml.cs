using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>The TOTP step of a sign-in (RFC 6238); the half-signed-in session is replaced by a new one on success.</summary>
[AnonymousConsolePage]
[EnableRateLimiting(RateLimits.Public)]
public sealed class CodeModel(ConsoleAccounts accounts) : ConsolePageModel
{
    public override string Title => L.T("两步验证", "Two-step verification");

    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    [BindProperty]
    public string? Code { get; set; }

    public IActionResult OnGet() => MaybeMe is { NeedsCode: true } ? Page() : LocalRedirect("/console/sign-in");

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (MaybeMe is not { NeedsCode: true } me)
        {
            return LocalRedirect("/console/sign-in");
        }

        var result = await accounts.VerifyCodeAsync(me.Session.TokenHash, Code?.Trim(), Ip, ct);
        if (result.Step == SignInStep.SignedIn)
        {
            Response.Cookies.Append(ConsoleFeature.CookieName, result.Token!, ConsoleFeature.SessionCookie(HttpContext, ConsoleAccounts.SessionLifetime));
            return LocalRedirect(SignInModel.SafeReturn(ReturnUrl));
        }

        Problem = result.Step == SignInStep.Throttled
            ? new ConsoleProblem(429, "sign_in_throttled", L.T("尝试次数过多", "Too many attempts"), null)
            : new ConsoleProblem(401, "code_refused", L.T("验证码不对或已用过", "Wrong or already used code"), null);
        return Page();
    }
}
