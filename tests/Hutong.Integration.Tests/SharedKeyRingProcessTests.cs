using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Console;
using Npgsql;

namespace Hutong.Integration.Tests;

/// <summary>
/// Two production hub processes (src/Hutong.Server) on one PostgreSQL, each with its own HOME (so the framework's
/// default key directory, ~/.aspnet/DataProtection-Keys, differs: only the database can make their keys agree). A
/// console user signs in on hub A; the form token A issued, with A's cookies, is accepted by hub B (the sign-out form:
/// B ends the session A made), and a tampered token is refused by B. The key ring is in data_protection_keys, sealed
/// under Hutong:MasterKey.
/// </summary>
[Collection("crash")]
public sealed partial class SharedKeyRingProcessTests : IAsyncLifetime
{
    private const string Password = "correct horse battery staple";
    private readonly string _database = "hutong_keyring_" + Guid.NewGuid().ToString("N")[..10];
    private readonly List<(Process Process, StringBuilder Output, int Port, string Home)> _hubs = [];
    private string _connectionString = string.Empty;

    public async Task InitializeAsync()
    {
        _connectionString = await PostgresHub.CreateDatabaseAsync(_database);
        var masterKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        for (var i = 0; i < 2; i++)
        {
            var port = FreePort();
            var home = Directory.CreateTempSubdirectory("hutong-home-").FullName;
            var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Hutong.Server.dll"));
            psi.ArgumentList.Add("--urls");
            psi.ArgumentList.Add($"http://127.0.0.1:{port}");
            foreach (var (k, v) in new Dictionary<string, string>
            {
                ["HOME"] = home,
                ["Store__Provider"] = "Postgres",
                ["Store__ConnectionString"] = _connectionString,
                ["Store__MaxPoolSize"] = "4",
                ["Hutong__AdminToken"] = "keyring-admin-token-0123456789abcdef",
                ["Hutong__MasterKey"] = masterKey,
                ["Hutong__Reconciliation__Enabled"] = "false",
                ["Hutong__PublicRateLimitPerMinute"] = "0",
                ["Logging__LogLevel__Default"] = "Warning",
            })
            {
                psi.Environment[k] = v;
            }

            var output = new StringBuilder();
            var process = Process.Start(psi)!;
            process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _hubs.Add((process, output, port, home));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var hub in _hubs)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (true)
            {
                Assert.False(hub.Process.HasExited, "a hub exited during start\n" + Output());
                Assert.True(DateTime.UtcNow < deadline, "a hub did not become ready\n" + Output());
                try
                {
                    using var r = await http.GetAsync($"http://127.0.0.1:{hub.Port}/healthz/ready");
                    if (r.IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(250);
            }
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var (process, _, _, home) in _hubs)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }

            process.Dispose();
            Directory.Delete(home, recursive: true);
        }

        await PostgresHub.DropDatabaseAsync(_database);
    }

    private string Output() => string.Join('\n', _hubs.Select((h, i) => { lock (h.Output) { return $"--- hub {i}:\n{h.Output}"; } }));

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [GeneratedRegex("name=\"__csrf\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    private static string Csrf(string html) => CsrfField().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException("no __csrf field in\n" + html);

    [Fact]
    public async Task A_form_and_cookies_issued_by_one_hub_are_accepted_by_another_on_the_same_database()
    {
        var (a, b) = ($"http://127.0.0.1:{_hubs[0].Port}", $"http://127.0.0.1:{_hubs[1].Port}");
        var email = $"operator-{Guid.NewGuid():N}@example.com";
        await using (var c = new NpgsqlConnection(_connectionString))
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await c.ExecuteAsync(
                """
                INSERT INTO console_users (id, email, name, merchant_id, role, password_hash, status, failed_logins, created_at, updated_at)
                VALUES (@id, @email, 'Key ring operator', NULL, 'operator', @hash, 'active', 0, @now, @now)
                """, new { id = "cu_" + Guid.NewGuid().ToString("N"), email, hash = ConsoleCrypto.HashPassword(Password), now });
        }

        // One browser: cookies are per host, not per port, so both hubs see the same cookie jar (as behind one load balancer).
        var cookies = new CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };
        var signIn = await http.GetStringAsync($"{a}/console/sign-in?lang=en");
        using var signedIn = await http.PostAsync($"{a}/console/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = Csrf(signIn), ["email"] = email, ["password"] = Password, ["returnUrl"] = "/console/users",
        }));
        Assert.True(signedIn.StatusCode == HttpStatusCode.Redirect, $"{signedIn.StatusCode}\n{await signedIn.Content.ReadAsStringAsync()}\n{Output()}");
        Assert.Equal(1, await SessionsAsync(email));

        // Hub B serves A's session, and accepts the antiforgery token A put in its page (the sign-out form) with A's cookie.
        using (var onB = await http.GetAsync($"{b}/console/users"))
        {
            Assert.Equal(HttpStatusCode.OK, onB.StatusCode);
        }

        var token = Csrf(await http.GetStringAsync($"{a}/console/users"));

        // A token that is not A's (one character changed) is refused by B: B checks, it does not wave tokens through.
        var tampered = token[..^3] + (token[^3] == 'A' ? 'B' : 'A') + token[^2..];
        using (var refused = await http.PostAsync($"{b}/console/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = tampered })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        Assert.Equal(1, await SessionsAsync(email));
        using var accepted = await http.PostAsync($"{b}/console/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = token }));
        Assert.True(accepted.StatusCode == HttpStatusCode.Redirect, $"{accepted.StatusCode}\n{Output()}");
        Assert.Equal("/console/sign-in", accepted.Headers.Location?.ToString());
        Assert.Equal(0, await SessionsAsync(email)); // B ran the handler: the session A made is over

        // The shared ring: in the database, each key sealed under the master key (no key material in clear).
        await using var db = new NpgsqlConnection(_connectionString);
        var keys = (await db.QueryAsync<string>("SELECT xml FROM data_protection_keys")).ToList();
        Assert.NotEmpty(keys);
        Assert.All(keys, x => Assert.StartsWith("sealed:v1:", x, StringComparison.Ordinal));
        Assert.All(_hubs, h => Assert.False(Directory.Exists(Path.Combine(h.Home, ".aspnet", "DataProtection-Keys")) &&
            Directory.EnumerateFiles(Path.Combine(h.Home, ".aspnet", "DataProtection-Keys")).Any(), "a key was written to the file system"));
    }

    private async Task<long> SessionsAsync(string email)
    {
        await using var c = new NpgsqlConnection(_connectionString);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM console_sessions s JOIN console_users u ON u.id = s.user_id WHERE u.email = @email", new { email });
    }
}
