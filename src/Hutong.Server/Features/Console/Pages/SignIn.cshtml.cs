using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>Email and password; then the code page when the user has TOTP. Throttled per address and per account.</summary>
[AnonymousConsolePage]
[EnableRateLimiting(RateLimits.Public)]
public sealed class SignInModel(ConsoleAccounts accounts) : ConsolePageModel
{
    public override string Title => L.T("登录", "Sign in");

    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    [BindProperty]
    public string? Email { get; set; }

    [BindProperty]
    public string? Password { get; set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (!ConsoleFeature.TransportAllowed(HttpContext))
        {
            Problem = new ConsoleProblem(403, "https_required", L.T("请通过 HTTPS 登录", "Sign in over HTTPS"), null);
            return Page();
        }

        var result = await accounts.SignInAsync(Email ?? string.Empty, Password ?? string.Empty, Ip, ct);
        switch (result.Step)
        {
            case SignInStep.SignedIn:
                Response.Cookies.Append(ConsoleFeature.CookieName, result.Token!, ConsoleFeature.SessionCookie(HttpContext, ConsoleAccounts.SessionLifetime));
                return LocalRedirect(SafeReturn(ReturnUrl));
            case SignInStep.NeedsCode:
                Response.Cookies.Append(ConsoleFeature.CookieName, result.Token!, ConsoleFeature.SessionCookie(HttpContext, ConsoleAccounts.CodeStepLifetime));
                return LocalRedirect("/console/code?returnUrl=" + Uri.EscapeDataString(SafeReturn(ReturnUrl)));
            case SignInStep.Throttled:
                Problem = new ConsoleProblem(429, "sign_in_throttled", L.T("尝试次数过多", "Too many attempts"),
                    L.T("请稍后再试：", "Try again after ") + ConsoleFormat.When(result.RetryAt!.Value.ToUnixTimeMilliseconds()));
                return Page();
            default:
                Problem = new ConsoleProblem(401, "sign_in_refused", L.T("邮箱或密码不对", "Wrong email or password"), null);
                return Page();
        }
    }

    /// <summary>
    /// Only a path inside the console: never another site (an open redirect), and no control characters (a tab or line
    /// break in it made LocalRedirect throw after the session was made: a 500 instead of the console).
    /// </summary>
    public static string SafeReturn(string? url) =>
        url is { Length: > 0 and <= 2048 } u && u.StartsWith("/console", StringComparison.Ordinal) && !u.StartsWith("//", StringComparison.Ordinal) && !u.Contains('\\', StringComparison.Ordinal)
            && !u.Any(char.IsControl)
            ? u : "/console/payments";
}
