using System.Data.Common;
using Dapper;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Console;

/// <summary>A console user as stored (console_users).</summary>
public sealed record ConsoleUserRow(
    string Id, string Email, string Name, string? MerchantId, string Role, string PasswordHash, string? TotpSecret, long? TotpLastStep,
    string Status, long FailedLogins, long? ThrottledUntil, long CreatedAt, long UpdatedAt);

/// <summary>A signed-in (or half signed-in, before TOTP) session with its user, as read on every console request.</summary>
public sealed record ConsoleSessionRow(
    string TokenHash, string Stage, long LastSeenAt, long ExpiresAt,
    string UserId, string Email, string Name, string? MerchantId, string Role);

public sealed record ConsoleInviteRow(string TokenHash, string MerchantId, string Email, string Role, string InvitedBy, long CreatedAt, long ExpiresAt, long? UsedAt);

public sealed record ConsoleAuditRow(long Seq, long At, string? UserId, string Email, string? MerchantId, string Action, string? Target, string? Detail, string? Ip);

/// <summary>One console action for the audit log: who (email, user), for which merchant, what, on what, from where.</summary>
public sealed record ConsoleAuditEntry(string? UserId, string Email, string? MerchantId, string Action, string? Target, string? Detail, string? Ip);

/// <summary>The one writer of the console tables (users, sessions, invites, audit).</summary>
public sealed class ConsoleStore(Db db)
{
    private const string UserColumns =
        "id, email, name, merchant_id, role, password_hash, totp_secret, totp_last_step, status, failed_logins, throttled_until, created_at, updated_at";

    public Task<ConsoleUserRow?> UserByEmailAsync(string email, CancellationToken ct) => db.ReadAsync(
        c => c.QueryFirstOrDefaultAsync<ConsoleUserRow>($"SELECT {UserColumns} FROM console_users WHERE email = @email", new { email }), ct);

    public Task<ConsoleUserRow?> UserAsync(string id, CancellationToken ct) => db.ReadAsync(
        c => c.QueryFirstOrDefaultAsync<ConsoleUserRow>($"SELECT {UserColumns} FROM console_users WHERE id = @id", new { id }), ct);

    /// <summary>A merchant's users (or every user, for <paramref name="merchantId"/> null), removed ones last.</summary>
    public Task<List<ConsoleUserRow>> UsersAsync(string? merchantId, CancellationToken ct) => db.ReadAsync(async c => (await c.QueryAsync<ConsoleUserRow>(
        $"SELECT {UserColumns} FROM console_users WHERE (@merchantId IS NULL OR merchant_id = @merchantId) " +
        "ORDER BY CASE status WHEN 'removed' THEN 1 ELSE 0 END, merchant_id, email LIMIT 500", new { merchantId })).AsList(), ct);

    /// <summary>Inserts a user; false when the email is taken.</summary>
    public async Task<bool> InsertUserAsync(DbConnection c, DbTransaction t, ConsoleUserRow u)
    {
        var inserted = await c.ExecuteAsync(
            """
            INSERT INTO console_users (id, email, name, merchant_id, role, password_hash, totp_secret, totp_last_step, status, failed_logins, throttled_until, created_at, updated_at)
            VALUES (@Id, @Email, @Name, @MerchantId, @Role, @PasswordHash, @TotpSecret, @TotpLastStep, @Status, @FailedLogins, @ThrottledUntil, @CreatedAt, @UpdatedAt)
            ON CONFLICT (email) DO NOTHING
            """, u, t);
        return inserted == 1;
    }

    /// <summary>A failed sign-in: counts it, and from the fifth in a row throttles the account (doubling, at most 15 min).</summary>
    public Task RecordFailureAsync(string userId, long now, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        var failed = await c.ExecuteScalarAsync<long>(
            "UPDATE console_users SET failed_logins = failed_logins + 1, updated_at = @now WHERE id = @userId RETURNING failed_logins", new { userId, now }, t);
        if (failed >= 5)
        {
            var wait = Math.Min(15 * 60_000L, 30_000L << (int)Math.Min(10, failed - 5));
            await c.ExecuteAsync("UPDATE console_users SET throttled_until = @until WHERE id = @userId", new { userId, until = now + wait }, t);
        }
    }, ct);

    /// <summary>When sign-ins with this email key are throttled until, or null (no row, or its wait is over).</summary>
    public Task<long?> ThrottledUntilAsync(string emailKey, long now, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<long?>(
        "SELECT throttled_until FROM console_sign_in_throttle WHERE email_key = @emailKey AND throttled_until > @now", new { emailKey, now }), ct);

    /// <summary>
    /// A refused sign-in for the submitted email (an account or not: the same row, the same counts), with its audit line,
    /// in one transaction: from the fifth failure in a row the email is throttled (doubling, at most 15 min).
    /// </summary>
    public Task RecordEmailFailureAsync(string emailKey, ConsoleAuditEntry audit, long now, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        var failed = await c.ExecuteScalarAsync<long>(
            """
            INSERT INTO console_sign_in_throttle (email_key, failures, throttled_until, updated_at) VALUES (@emailKey, 1, NULL, @now)
            ON CONFLICT (email_key) DO UPDATE SET failures = console_sign_in_throttle.failures + 1, updated_at = @now
            RETURNING failures
            """, new { emailKey, now }, t);
        if (failed >= 5)
        {
            var wait = Math.Min(15 * 60_000L, 30_000L << (int)Math.Min(10, failed - 5));
            await c.ExecuteAsync("UPDATE console_sign_in_throttle SET throttled_until = @until WHERE email_key = @emailKey", new { emailKey, until = now + wait }, t);
        }

        await AuditAsync(c, t, audit, now);
    }, ct);

    /// <summary>A correct password: the email's failure count starts again.</summary>
    public static Task ClearEmailFailuresAsync(DbConnection c, DbTransaction t, string emailKey) =>
        c.ExecuteAsync("DELETE FROM console_sign_in_throttle WHERE email_key = @emailKey", new { emailKey }, t);

    public Task<bool> SetRoleAsync(DbConnection c, DbTransaction t, string userId, string? merchantId, string role, long now) =>
        Changed(c.ExecuteAsync(
            "UPDATE console_users SET role = @role, updated_at = @now WHERE id = @userId AND (@merchantId IS NULL OR merchant_id = @merchantId) AND status <> 'removed' AND role <> 'operator'",
            new { userId, merchantId, role, now }, t));

    /// <summary>Locks, unlocks or removes a user; a lock or removal also ends the user's sessions at once.</summary>
    public async Task<bool> SetStatusAsync(DbConnection c, DbTransaction t, string userId, string? merchantId, string status, long now)
    {
        var changed = await c.ExecuteAsync(
            """
            UPDATE console_users SET status = @status, failed_logins = 0, throttled_until = NULL, updated_at = @now
            WHERE id = @userId AND (@merchantId IS NULL OR merchant_id = @merchantId) AND status <> 'removed'
            """, new { userId, merchantId, status, now }, t);
        if (changed == 1 && status != "active")
        {
            await c.ExecuteAsync("DELETE FROM console_sessions WHERE user_id = @userId", new { userId }, t);
        }

        return changed == 1;
    }

    /// <summary>Sets a new password (the demo's start); the user's sessions end and the throttle is cleared.</summary>
    public async Task SetPasswordAsync(DbConnection c, DbTransaction t, string email, string hash, long now)
    {
        await c.ExecuteAsync("UPDATE console_users SET password_hash = @hash, failed_logins = 0, throttled_until = NULL, updated_at = @now WHERE email = @email",
            new { email, hash, now }, t);
        await c.ExecuteAsync("DELETE FROM console_sessions WHERE user_id IN (SELECT id FROM console_users WHERE email = @email)", new { email }, t);
    }

    /// <summary>A correct password: the failure count is cleared, and a hash made with weaker settings replaced.</summary>
    /// <summary>
    /// A step of signing in passed. The failure count is cleared only when the sign-in is complete: clearing it at the
    /// password step of a TOTP user would let a caller who knows the password guess codes four at a time forever.
    /// </summary>
    public Task SignedInAsync(DbConnection c, DbTransaction t, string userId, string? newHash, long now, bool complete = true) => c.ExecuteAsync(
        complete
            ? "UPDATE console_users SET failed_logins = 0, throttled_until = NULL, password_hash = COALESCE(@newHash, password_hash), updated_at = @now WHERE id = @userId"
            : "UPDATE console_users SET password_hash = COALESCE(@newHash, password_hash), updated_at = @now WHERE id = @userId",
        new { userId, newHash, now }, t);

    /// <summary>Records a used TOTP step; false when that step (or a later one) was used already (a replayed code).</summary>
    public Task<bool> UseTotpStepAsync(DbConnection c, DbTransaction t, string userId, long step, long now) => Changed(c.ExecuteAsync(
        "UPDATE console_users SET totp_last_step = @step, updated_at = @now WHERE id = @userId AND (totp_last_step IS NULL OR totp_last_step < @step)",
        new { userId, step, now }, t));

    /// <summary>
    /// Turns TOTP on; false when it is on already: a second factor is never replaced from a session alone (a stolen
    /// cookie would swap in the thief's own authenticator and lock the user out).
    /// </summary>
    public Task<bool> SetTotpAsync(DbConnection c, DbTransaction t, string userId, string? sealedSecret, long? step, long now) => Changed(c.ExecuteAsync(
        "UPDATE console_users SET totp_secret = @sealedSecret, totp_last_step = @step, updated_at = @now WHERE id = @userId AND status = 'active' AND totp_secret IS NULL",
        new { userId, sealedSecret, step, now }, t));

    public Task InsertSessionAsync(DbConnection c, DbTransaction t, string tokenHash, string userId, string stage, long now, long expiresAt) => c.ExecuteAsync(
        "INSERT INTO console_sessions (token_hash, user_id, stage, created_at, last_seen_at, expires_at) VALUES (@tokenHash, @userId, @stage, @now, @now, @expiresAt)",
        new { tokenHash, userId, stage, now, expiresAt }, t);

    public Task<int> DeleteSessionAsync(DbConnection c, DbTransaction t, string tokenHash) =>
        c.ExecuteAsync("DELETE FROM console_sessions WHERE token_hash = @tokenHash", new { tokenHash }, t);

    /// <summary>The session and its user, if the session is unexpired and its user active: read on every console request.</summary>
    public Task<ConsoleSessionRow?> SessionAsync(string tokenHash, long now, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<ConsoleSessionRow>(
        """
        SELECT s.token_hash, s.stage, s.last_seen_at, s.expires_at, u.id AS user_id, u.email, u.name, u.merchant_id, u.role
        FROM console_sessions s JOIN console_users u ON u.id = s.user_id
        WHERE s.token_hash = @tokenHash AND s.expires_at > @now AND u.status = 'active'
        """, new { tokenHash, now }), ct);

    public Task TouchSessionAsync(string tokenHash, long now, CancellationToken ct) => db.WriteAsync(
        (c, t) => c.ExecuteAsync("UPDATE console_sessions SET last_seen_at = @now WHERE token_hash = @tokenHash", new { tokenHash, now }, t), ct);

    public Task InsertInviteAsync(DbConnection c, DbTransaction t, ConsoleInviteRow i) => c.ExecuteAsync(
        """
        INSERT INTO console_invites (token_hash, merchant_id, email, role, invited_by, created_at, expires_at, used_at)
        VALUES (@TokenHash, @MerchantId, @Email, @Role, @InvitedBy, @CreatedAt, @ExpiresAt, @UsedAt)
        """, i, t);

    public Task<ConsoleInviteRow?> InviteAsync(string tokenHash, long now, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<ConsoleInviteRow>(
        "SELECT * FROM console_invites WHERE token_hash = @tokenHash AND used_at IS NULL AND expires_at > @now", new { tokenHash, now }), ct);

    /// <summary>Marks the invite used; false when it was used (or expired) meanwhile: a link works once.</summary>
    public Task<bool> UseInviteAsync(DbConnection c, DbTransaction t, string tokenHash, long now) => Changed(c.ExecuteAsync(
        "UPDATE console_invites SET used_at = @now WHERE token_hash = @tokenHash AND used_at IS NULL AND expires_at > @now", new { tokenHash, now }, t));

    public Task<List<ConsoleInviteRow>> OpenInvitesAsync(string? merchantId, long now, CancellationToken ct) => db.ReadAsync(async c => (await c.QueryAsync<ConsoleInviteRow>(
        "SELECT * FROM console_invites WHERE (@merchantId IS NULL OR merchant_id = @merchantId) AND used_at IS NULL AND expires_at > @now ORDER BY created_at DESC LIMIT 100",
        new { merchantId, now })).AsList(), ct);

    /// <summary>
    /// The most of a target or detail an audit line keeps: they echo what a form sent (a replay's type or endpoint, a
    /// host's name), and a console POST may be 1 MiB — without a bound one request wrote a megabyte-long audit line.
    /// </summary>
    public const int MaxAuditText = 500;

    public static Task AuditAsync(DbConnection c, DbTransaction t, ConsoleAuditEntry e, long at) => c.ExecuteAsync(
        "INSERT INTO console_audit (at, user_id, email, merchant_id, action, target, detail, ip) VALUES (@at, @UserId, @Email, @MerchantId, @Action, @Target, @Detail, @Ip)",
        new { at, e.UserId, Email = Clip(e.Email), e.MerchantId, e.Action, Target = Clip(e.Target), Detail = Clip(e.Detail), e.Ip }, t);

    /// <summary><paramref name="s"/> cut to <see cref="MaxAuditText"/> characters, marked with "…", never inside a surrogate pair.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(s))]
    public static string? Clip(string? s)
    {
        if (s is null || s.Length <= MaxAuditText)
        {
            return s;
        }

        var cut = MaxAuditText - 1;
        if (char.IsHighSurrogate(s[cut - 1]))
        {
            cut--;
        }

        return string.Concat(s.AsSpan(0, cut), "…");
    }

    public Task AuditAsync(ConsoleAuditEntry e, long at, CancellationToken ct) => db.WriteAsync((c, t) => AuditAsync(c, t, e, at), ct);

    /// <summary>
    /// A console form's key already has a stored answer in its merchant's scope — the scope and key
    /// <see cref="ConsoleActions"/> gave the service's IdempotencyContext, under which the answer was stored: the form was
    /// sent before and did what it did then.
    /// </summary>
    public Task<bool> FormAnsweredAsync(string merchantId, string key, CancellationToken ct) => IdempotencyStore.AnsweredAsync(db, merchantId, key, ct);

    /// <summary>A page of the audit log, newest first, for one merchant or (null) all; <paramref name="before"/> is the keyset cursor.</summary>
    public Task<List<ConsoleAuditRow>> AuditPageAsync(string? merchantId, long? before, int limit, CancellationToken ct) => db.ReadAsync(async c => (await c.QueryAsync<ConsoleAuditRow>(
        """
        SELECT seq, at, user_id, email, merchant_id, action, target, detail, ip FROM console_audit
        WHERE (@merchantId IS NULL OR merchant_id = @merchantId) AND (@before IS NULL OR seq < @before)
        ORDER BY seq DESC LIMIT @limit
        """, new { merchantId, before, limit })).AsList(), ct);

    private static async Task<bool> Changed(Task<int> rows) => await rows == 1;
}
