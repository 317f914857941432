using Hutong.Sandbox.UnionPay;

namespace Hutong.Integration.Tests;

/// <summary>
/// The sandbox plays the wallets' side with its own protocol code (signing, verifying, answer and bill formats). Were it
/// to borrow the connectors' codecs or bill writers, a misreading shared by both would pass every test, so it may not
/// reference Hutong.Connectors at all; crypto primitives come from System.Security.Cryptography.
/// </summary>
public class SandboxIndependenceTests
{
    [Fact]
    public void The_sandbox_assembly_does_not_reference_the_connectors()
    {
        var references = typeof(UnionPaySandbox).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();

        Assert.DoesNotContain("Hutong.Connectors", references);
    }

    [Fact]
    public void No_sandbox_source_or_project_file_names_the_connectors()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Hutong.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var sandbox = Path.Combine(root.FullName, "src", "Hutong.Sandbox");
        var offenders = Directory.EnumerateFiles(sandbox, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains("Hutong.Connectors", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(root.FullName, f))
            .ToList();

        Assert.Empty(offenders);
    }
}
