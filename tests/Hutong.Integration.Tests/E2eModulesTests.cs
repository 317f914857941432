using System.Diagnostics;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>Tests that need npm packages install them first, or fail saying why; they never pass without them.</summary>
public sealed class E2eModulesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "hutong-npm-" + Guid.NewGuid().ToString("N")[..8]);

    public E2eModulesTests()
    {
        // A package served from a local folder: npm ci installs it without the network.
        Directory.CreateDirectory(Path.Combine(_dir, "local-pkg"));
        File.WriteAllText(Path.Combine(_dir, "local-pkg", "package.json"), """{ "name": "local-pkg", "version": "1.0.0" }""");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task WritePackageAsync(string dependency)
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "package.json"), $$"""{ "name": "t", "private": true, "dependencies": { "local-pkg": "{{dependency}}" } }""");
        using var npm = Process.Start(new ProcessStartInfo("npm", "install --package-lock-only --no-audit --no-fund") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await npm.WaitForExitAsync();
        if (dependency.StartsWith("file:./local-pkg", StringComparison.Ordinal))
        {
            Assert.Equal(0, npm.ExitCode);
        }
    }

    [Fact]
    public async Task Missing_modules_are_installed_before_the_test_uses_them()
    {
        await WritePackageAsync("file:./local-pkg");
        Assert.False(Directory.Exists(Path.Combine(_dir, "node_modules")));
        await E2eModules.EnsureInstalledAsync(_dir);
        Assert.True(File.Exists(Path.Combine(_dir, "node_modules", "local-pkg", "package.json")));
    }

    [Fact]
    public async Task Modules_npm_cannot_install_fail_the_test_with_the_reason()
    {
        await WritePackageAsync("file:./local-pkg");
        Directory.Delete(Path.Combine(_dir, "local-pkg"), recursive: true); // the lock file now names a package that is gone
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => E2eModules.EnsureInstalledAsync(_dir));
        Assert.Contains("local-pkg", e.Message, StringComparison.Ordinal);
    }
}
