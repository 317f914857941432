using Hutong.Domain;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Console;

/// <summary>How a sign-in step ended. <see cref="Token"/> is the new session's cookie value (its hash is stored).</summary>
public sealed record SignInResult(SignInStep Step, string? Token = null, DateTimeOffset? RetryAt = null);

public enum SignInStep
{
    /// <summary>Wrong email, password or code, or the user is locked or removed: one answer for all, so none can be told apart.</summary>
    Refused,
    /// <summary>Too many wrong passwords in a row: no attempt is checked until <see cref="SignInResult.RetryAt"/>.</summary>
    Throttled,
    /// <summary>The password was right and the user has TOTP: the session may only enter the code.</summary>
    NeedsCode,
    SignedIn,
}

/// <summary>
/// Console users: creating them (the CLI, invites, the demo), signing in (password, then TOTP when enrolled) and the
/// server-side sessions. Sessions last 12 h at most and end after 30 min idle; the store is asked on every request
/// (<see cref="ConsoleStore.SessionAsync"/>), so locking or removing a user ends its sessions at once.
/// </summary>
public sealed class ConsoleAccounts(Db db, ConsoleStore store, SecretBox secrets, TimeProvider time)
{
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan CodeStepLifetime = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan InviteLifetime = TimeSpan.FromHours(72);

    /// <summary>Compared against when the email is unknown, so an unknown email costs as long as a wrong password.</summary>
    private static readonly string DummyHash = ConsoleCrypto.HashPassword(Ids.Token());

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();

    /// <summary>Why a new user's fields are refused, or null.</summary>
    public static string? Invalid(string email, string name, string password)
    {
        if (email.Length is < 3 or > 200 || !email.Contains('@', StringComparison.Ordinal))
        {
            return "email";
        }

        if (name.Trim().Length is < 1 or > 100)
        {
            return "name";
        }

        return password.Length is < ConsoleCrypto.MinPasswordLength or > 200 ? "password" : null;
    }

    /// <summary>Creates a user (the CLI, the demo); null when the email is taken. <paramref name="merchantId"/> null makes an operator.</summary>
    public async Task<ConsoleUserRow?> CreateUserAsync(string email, string name, string password, string? merchantId, ConsoleRole role, CancellationToken ct)
    {
        if (Invalid(email, name, password) is { } field)
        {
            throw new ArgumentException($"invalid {field}", field);
        }

        if ((merchantId is null) != (role == ConsoleRole.Operator))
        {
            throw new ArgumentException("an operator has no merchant; a merchant user has one", nameof(role));
        }

        var now = Now;
        var user = new ConsoleUserRow(Ids.New("cu", time.GetUtcNow()), NormalizeEmail(email), name.Trim(), merchantId, ConsolePermissions.Name(role),
            ConsoleCrypto.HashPassword(password), null, null, "active", 0, null, now, now);
        var created = await db.WriteAsync(async (c, t) =>
        {
            if (!await store.InsertUserAsync(c, t, user))
            {
                return false;
            }

            await ConsoleStore.AuditAsync(c, t, new ConsoleAuditEntry(null, "cli", merchantId, "user.created", user.Email, ConsolePermissions.Name(role), null), now);
            return true;
        }, ct);
        return created ? user : null;
    }

    /// <summary>
    /// The demo's owner user for <paramref name="merchantId"/>: created on the first start, and given a new random
    /// password on every start (printed by the demo host; its earlier sessions end), like the demo's API key.
    /// </summary>
    public async Task<(string Email, string Password)> DemoUserAsync(string merchantId, CancellationToken ct)
    {
        const string email = "demo@hutong.local";
        var password = Ids.Token(12);
        if (await CreateUserAsync(email, "Demo owner", password, merchantId, ConsoleRole.Owner, ct) is null)
        {
            var now = Now;
            await db.WriteAsync(async (c, t) =>
            {
                await store.SetPasswordAsync(c, t, email, ConsoleCrypto.HashPassword(password), now);
                await ConsoleStore.ClearEmailFailuresAsync(c, t, EmailKey(email));
                await ConsoleStore.AuditAsync(c, t, new ConsoleAuditEntry(null, "demo", merchantId, "user.password_reset", email, null, null), now);
            }, ct);
        }

        return (email, password);
    }

    /// <summary>
    /// Checks email and password; a user with TOTP gets a session that can only enter the code. An email that is no
    /// account is answered exactly as a wrong password (the same steps: a password hash checked, a failure counted under
    /// the submitted email, an audit line), and throttling is counted per submitted email whether or not it is an
    /// account: neither the answer, nor when throttling starts, nor the time taken tells which emails are accounts.
    /// </summary>
    public async Task<SignInResult> SignInAsync(string email, string password, string? ip, CancellationToken ct)
    {
        var now = Now;
        var normalized = NormalizeEmail(email);
        var emailKey = EmailKey(normalized);
        var user = await store.UserByEmailAsync(normalized, ct);
        var shown = normalized.Length > 200 ? normalized[..200] : normalized;
        if (await store.ThrottledUntilAsync(emailKey, now, ct) is { } until)
        {
            await store.AuditAsync(user is null ? Unknown(shown, "sign_in.throttled", ip) : Entry(user, "sign_in.throttled", ip), now, ct);
            return new SignInResult(SignInStep.Throttled, RetryAt: DateTimeOffset.FromUnixTimeMilliseconds(until));
        }

        var passwordOk = ConsoleCrypto.VerifyPassword(user?.PasswordHash ?? DummyHash, password, out var rehash);
        if (user is null || !passwordOk || user.Status != "active")
        {
            await store.RecordEmailFailureAsync(emailKey, user is null ? Unknown(shown, "sign_in.refused", ip) : Entry(user, "sign_in.refused", ip), now, ct);
            return new SignInResult(SignInStep.Refused);
        }

        var token = ConsoleCrypto.NewToken();
        var stage = user.TotpSecret is null ? "active" : "totp";
        var lifetime = stage == "active" ? SessionLifetime : CodeStepLifetime;
        await db.WriteAsync(async (c, t) =>
        {
            await store.SignedInAsync(c, t, user.Id, rehash ? ConsoleCrypto.HashPassword(password) : null, now, complete: stage == "active");
            await ConsoleStore.ClearEmailFailuresAsync(c, t, emailKey);
            await store.InsertSessionAsync(c, t, ConsoleCrypto.TokenHash(token), user.Id, stage, now, now + (long)lifetime.TotalMilliseconds);
            await ConsoleStore.AuditAsync(c, t, Entry(user, stage == "active" ? "sign_in" : "sign_in.password_ok", ip), now);
        }, ct);
        return new SignInResult(stage == "active" ? SignInStep.SignedIn : SignInStep.NeedsCode, token);
    }

    /// <summary>
    /// The second step: the TOTP code for a session at stage 'totp'. On success that session is replaced by a new one
    /// (a new token: the half-signed-in cookie never becomes a full session).
    /// </summary>
    public async Task<SignInResult> VerifyCodeAsync(string tokenHash, string? code, string? ip, CancellationToken ct)
    {
        var now = Now;
        var session = await store.SessionAsync(tokenHash, now, ct);
        var user = session is { Stage: "totp" } ? await store.UserAsync(session.UserId, ct) : null;
        if (user?.TotpSecret is null)
        {
            return new SignInResult(SignInStep.Refused);
        }

        if (user.ThrottledUntil is { } until && until > now)
        {
            return new SignInResult(SignInStep.Throttled, RetryAt: DateTimeOffset.FromUnixTimeMilliseconds(until));
        }

        var secret = secrets.OpenIfSealed(user.TotpSecret, "console-totp:" + user.Id);
        if (ConsoleCrypto.MatchTotp(secret, code, time.GetUtcNow()) is not { } step)
        {
            await store.RecordFailureAsync(user.Id, now, ct);
            await store.AuditAsync(Entry(user, "sign_in.code_refused", ip), now, ct);
            return new SignInResult(SignInStep.Refused);
        }

        var token = ConsoleCrypto.NewToken();
        var ok = await db.WriteAsync(async (c, t) =>
        {
            if (!await store.UseTotpStepAsync(c, t, user.Id, step, now) || await store.DeleteSessionAsync(c, t, tokenHash) != 1)
            {
                return false; // a replayed code, or the session ended meanwhile
            }

            await store.SignedInAsync(c, t, user.Id, null, now);
            await store.InsertSessionAsync(c, t, ConsoleCrypto.TokenHash(token), user.Id, "active", now, now + (long)SessionLifetime.TotalMilliseconds);
            await ConsoleStore.AuditAsync(c, t, Entry(user, "sign_in", ip), now);
            return true;
        }, ct);
        if (!ok)
        {
            await store.AuditAsync(Entry(user, "sign_in.code_replayed", ip), now, ct);
        }

        return ok ? new SignInResult(SignInStep.SignedIn, token) : new SignInResult(SignInStep.Refused);
    }

    /// <summary>The signed-in user of a session cookie, or null (unknown, expired, idle too long, or its user locked or removed).</summary>
    public async Task<ConsoleSessionRow?> SessionAsync(string token, CancellationToken ct)
    {
        var now = Now;
        var hash = ConsoleCrypto.TokenHash(token);
        var session = await store.SessionAsync(hash, now, ct);
        if (session is null || session.LastSeenAt + (long)IdleTimeout.TotalMilliseconds < now)
        {
            return null;
        }

        if (now - session.LastSeenAt > 60_000)
        {
            await store.TouchSessionAsync(hash, now, ct); // at most one write a minute per session
        }

        return session;
    }

    public Task SignOutAsync(ConsoleSessionRow session, string? ip, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        await store.DeleteSessionAsync(c, t, session.TokenHash);
        await ConsoleStore.AuditAsync(c, t, new ConsoleAuditEntry(session.UserId, session.Email, session.MerchantId, "sign_out", null, null, ip), Now);
    }, ct);

    /// <summary>An invite link's token (shown once to the owner who made it); the store keeps its hash.</summary>
    public async Task<string> InviteAsync(ConsoleAuditEntry actor, string merchantId, string email, ConsoleRole role, CancellationToken ct)
    {
        var now = Now;
        var token = ConsoleCrypto.NewToken();
        var invite = new ConsoleInviteRow(ConsoleCrypto.TokenHash(token), merchantId, NormalizeEmail(email), ConsolePermissions.Name(role), actor.UserId!, now,
            now + (long)InviteLifetime.TotalMilliseconds, null);
        await db.WriteAsync(async (c, t) =>
        {
            await store.InsertInviteAsync(c, t, invite);
            await ConsoleStore.AuditAsync(c, t, actor with { MerchantId = merchantId, Action = "user.invited", Target = invite.Email, Detail = invite.Role }, now);
        }, ct);
        return token;
    }

    public Task<ConsoleInviteRow?> OpenInviteAsync(string token, CancellationToken ct) => store.InviteAsync(ConsoleCrypto.TokenHash(token), Now, ct);

    /// <summary>Accepts an invite: creates the user and uses up the link, in one transaction. Null when the link or email is taken.</summary>
    public async Task<ConsoleUserRow?> AcceptInviteAsync(string token, string name, string password, string? ip, CancellationToken ct)
    {
        var now = Now;
        var hash = ConsoleCrypto.TokenHash(token);
        var invite = await store.InviteAsync(hash, now, ct);
        if (invite is null)
        {
            return null;
        }

        var user = new ConsoleUserRow(Ids.New("cu", time.GetUtcNow()), invite.Email, name.Trim(), invite.MerchantId, invite.Role,
            ConsoleCrypto.HashPassword(password), null, null, "active", 0, null, now, now);
        try
        {
            await db.WriteAsync(async (c, t) =>
            {
                if (!await store.UseInviteAsync(c, t, hash, now) || !await store.InsertUserAsync(c, t, user))
                {
                    throw new InviteTakenException(); // rolls back the use of the link too
                }

                await ConsoleStore.AuditAsync(c, t, new ConsoleAuditEntry(user.Id, user.Email, user.MerchantId, "invite.accepted", user.Email, user.Role, ip), now);
            }, ct);
            return user;
        }
        catch (InviteTakenException)
        {
            return null;
        }
    }

    private sealed class InviteTakenException() : Exception("The invite was used, or its email is taken.");

    /// <summary>Enrols TOTP after the user proved the app shows the right code for <paramref name="secret"/>.</summary>
    public async Task<bool> EnableTotpAsync(ConsoleAuditEntry actor, string secret, string? code, CancellationToken ct)
    {
        var now = Now;
        if (ConsoleCrypto.MatchTotp(secret, code, time.GetUtcNow()) is not { } step)
        {
            return false;
        }

        return await db.WriteAsync(async (c, t) =>
        {
            var ok = await store.SetTotpAsync(c, t, actor.UserId!, secrets.SealIfEnabled(secret, "console-totp:" + actor.UserId), step, now);
            if (ok)
            {
                await ConsoleStore.AuditAsync(c, t, actor with { Action = "totp.enabled", Target = actor.Email }, now);
            }

            return ok;
        }, ct);
    }

    /// <summary>Changes a merchant user's role (never an operator's); scoped to <paramref name="merchantId"/> unless null (operator).</summary>
    public Task<bool> ChangeRoleAsync(ConsoleAuditEntry actor, string userId, string? merchantId, ConsoleRole role, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        var now = Now;
        var ok = role != ConsoleRole.Operator && await store.SetRoleAsync(c, t, userId, merchantId, ConsolePermissions.Name(role), now);
        if (ok)
        {
            await ConsoleStore.AuditAsync(c, t, actor with { Action = "user.role_changed", Target = userId, Detail = ConsolePermissions.Name(role) }, now);
        }

        return ok;
    }, ct);

    /// <summary>Locks ('locked'), unlocks ('active') or removes ('removed') a user; locking or removing ends its sessions at once.</summary>
    public Task<bool> SetStatusAsync(ConsoleAuditEntry actor, string userId, string? merchantId, string status, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        var now = Now;
        var ok = await store.SetStatusAsync(c, t, userId, merchantId, status, now);
        if (ok)
        {
            await ConsoleStore.AuditAsync(c, t, actor with { Action = "user." + status, Target = userId }, now);
        }

        return ok;
    }, ct);

    /// <summary>The throttle's key for a normalised email: its SHA-256, so an email that is no account is not kept in clear.</summary>
    public static string EmailKey(string normalizedEmail) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(normalizedEmail)));

    /// <summary>The audit line of a sign-in for an email that is no account (operators' audit log only: no merchant).</summary>
    private static ConsoleAuditEntry Unknown(string email, string action, string? ip) => new(null, email, null, action, null, null, ip);

    private static ConsoleAuditEntry Entry(ConsoleUserRow user, string action, string? ip) => new(user.Id, user.Email, user.MerchantId, action, null, null, ip);
}
