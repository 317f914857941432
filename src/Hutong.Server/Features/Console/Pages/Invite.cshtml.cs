using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>Accepting an invite: the link works once, within 72 h; the invited user picks a name and a password.</summary>
[AnonymousConsolePage]
[EnableRateLimiting(Http.RateLimits.Public)]
public sealed class InviteModel(ConsoleAccounts accounts) : ConsolePageModel
{
    public override string Title => L.T("接受邀请", "Accept the invite");

    [BindProperty(SupportsGet = true)]
    public string Token { get; set; } = string.Empty;

    public ConsoleInviteRow? Invite { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        Invite = await accounts.OpenInviteAsync(Token, ct);
        return Invite is null ? NotFound404() : Page();
    }

    public async Task<IActionResult> OnPostAsync(string? name, string? password, CancellationToken ct)
    {
        Invite = await accounts.OpenInviteAsync(Token, ct);
        if (Invite is null)
        {
            return NotFound404();
        }

        if (ConsoleAccounts.Invalid(Invite.Email, name ?? string.Empty, password ?? string.Empty) is { } field)
        {
            Problem = new ConsoleProblem(400, "validation_error", L.T("请检查输入", "Please check the form"),
                field == "password" ? L.T("密码至少 12 位。", "The password needs at least 12 characters.") : L.T("请填写姓名。", "Please enter a name."));
            return Page();
        }

        if (await accounts.AcceptInviteAsync(Token, name!, password!, Ip, ct) is null)
        {
            Problem = new ConsoleProblem(409, "invite_used", L.T("这个邀请已被使用", "This invite was used already"), null);
            Invite = null;
            return Page();
        }

        return LocalRedirect("/console/sign-in");
    }

    private PageResult NotFound404()
    {
        Response.StatusCode = StatusCodes.Status404NotFound;
        return Page();
    }
}
