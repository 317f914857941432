using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>The signed-in user's own account: turning on TOTP (the secret is stored sealed under Hutong:MasterKey when set).</summary>
[Requires(ConsolePermission.PaymentsRead)]
public sealed class AccountModel(ConsoleStore store, ConsoleAccounts accounts) : ConsolePageModel
{
    public override string Title => L.T("我的账户", "My account");

    public bool HasTotp { get; private set; }

    public string Secret { get; private set; } = string.Empty;

    public string Uri => ConsoleCrypto.TotpUri(Secret, Me.Session.Email);

    public async Task OnGetAsync(CancellationToken ct)
    {
        HasTotp = (await store.UserAsync(Me.Session.UserId, ct))?.TotpSecret is not null;
        Secret = ConsoleCrypto.NewTotpSecret();
    }

    public async Task<IActionResult> OnPostAsync(string? secret, string? code, CancellationToken ct)
    {
        if (secret is { Length: 32 } && await accounts.EnableTotpAsync(Actor("totp.enabled", Me.Session.MerchantId), secret, code?.Trim(), ct))
        {
            return LocalRedirect("/console/account?done=totp");
        }

        Problem = new ConsoleProblem(400, "code_refused", L.T("验证码不对", "The code is not right"), null);
        Secret = secret is { Length: 32 } ? secret : ConsoleCrypto.NewTotpSecret();
        return Page();
    }

}
