using System.Diagnostics;
using System.Text.Json;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>
/// The npm packages that tests/e2e/package.json pins (jsQR and axe-core for the browser tests, an independent WeChat Pay
/// client for the interop test). A test that needs them installs them first with <c>npm ci</c>, as scripts/test-deps.sh
/// does, so it never runs without them: if npm cannot install them the test fails and says why, it never passes silently.
/// </summary>
public static class E2eModules
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly HashSet<string> Ready = new(StringComparer.Ordinal);

    public static string Dir => Path.Combine(BrowserFixture.RepoRoot, "tests", "e2e");

    /// <summary>
    /// A node script of tests/e2e run as wechatpay-axios-plugin's caller: the merchant's credentials and the sandbox's
    /// address in the WX_* variables the scripts read; the caller adds the script's own ones.
    /// </summary>
    public static ProcessStartInfo WeChatPayClient(string script, string sandboxBaseUrl, Hutong.Connectors.WeChatPay.WeChatPayOptions wechat)
    {
        var psi = new ProcessStartInfo("node", script) { WorkingDirectory = Dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["WX_BASE_URL"] = sandboxBaseUrl + "/";
        psi.Environment["WX_MCHID"] = wechat.MchId;
        psi.Environment["WX_APPID"] = wechat.AppId;
        psi.Environment["WX_SERIAL"] = wechat.MerchantSerialNo;
        psi.Environment["WX_PRIVATE_KEY"] = wechat.MerchantPrivateKeyPem;
        psi.Environment["WX_PUB_KEY_ID"] = wechat.PlatformPublicKeyId;
        psi.Environment["WX_PUB_KEY"] = wechat.PlatformPublicKeyPem;
        return psi;
    }

    /// <summary>
    /// Runs a node script to its end, at most <paramref name="timeout"/> (60 s unless given): both output streams are read
    /// at once (a script that fills one pipe while the other is read would otherwise hang), and a script still running at
    /// the deadline is killed and the test fails saying so, with what it printed.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunNodeAsync(ProcessStartInfo psi, TimeSpan? timeout = null)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var node = Process.Start(psi) ?? throw new InvalidOperationException($"{psi.FileName} did not start");
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await node.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
            throw new TimeoutException($"{psi.FileName} {psi.Arguments} ran past {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:0} s and was killed; stdout: {await stdout}; stderr: {await stderr}");
        }

        return (node.ExitCode, await stdout, await stderr);
    }

    public static Task EnsureInstalledAsync() => EnsureInstalledAsync(Dir);

    /// <summary>Runs <c>npm ci</c> in <paramref name="dir"/> unless every dependency its package.json names is installed.</summary>
    public static async Task EnsureInstalledAsync(string dir)
    {
        await Gate.WaitAsync();
        try
        {
            if (Ready.Contains(dir) || Missing(dir).Count == 0)
            {
                Ready.Add(dir);
                return;
            }

            var psi = new ProcessStartInfo("npm", "ci --no-audit --no-fund")
            {
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            Process npm;
            try
            {
                npm = Process.Start(psi) ?? throw new InvalidOperationException("npm did not start");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException($"the npm packages in {dir} are not installed and npm cannot run ({e.Message}): install Node.js and npm, or run scripts/test.sh", e);
            }

            using (npm)
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            {
                var stdout = npm.StandardOutput.ReadToEndAsync(timeout.Token);
                var stderr = npm.StandardError.ReadToEndAsync(timeout.Token);
                try
                {
                    await npm.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    npm.Kill(entireProcessTree: true);
                    throw new InvalidOperationException($"npm ci in {dir} did not finish in 5 minutes");
                }

                var missing = Missing(dir);
                if (npm.ExitCode != 0 || missing.Count > 0)
                {
                    throw new InvalidOperationException(
                        $"npm ci in {dir} exited with {npm.ExitCode}; still missing: {string.Join(", ", missing)}\n{await stderr}\n{await stdout}");
                }
            }

            Ready.Add(dir);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static List<string> Missing(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "package.json")));
        return doc.RootElement.TryGetProperty("dependencies", out var deps)
            ? deps.EnumerateObject().Select(d => d.Name).Where(name => !File.Exists(Path.Combine(dir, "node_modules", name, "package.json"))).ToList()
            : [];
    }
}
