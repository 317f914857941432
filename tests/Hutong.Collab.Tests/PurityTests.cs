using System.Reflection;

namespace Hutong.Collab.Tests;

/// <summary>The protocol core stays pure: it references the base class library only (no hub, no ASP.NET, no storage).</summary>
public class PurityTests
{
    [Fact]
    public void The_collab_core_references_only_the_base_class_library()
    {
        var references = typeof(InProcess).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.All(references, name => Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name is "netstandard" or "mscorlib",
            $"Hutong.Collab references {name}"));
        Assert.DoesNotContain(typeof(InProcess).Assembly.GetTypes(), t => t.Namespace is { } ns && !ns.StartsWith("Hutong.Collab", StringComparison.Ordinal) && !ns.StartsWith("System", StringComparison.Ordinal) && !ns.StartsWith("Microsoft", StringComparison.Ordinal));
    }
}
