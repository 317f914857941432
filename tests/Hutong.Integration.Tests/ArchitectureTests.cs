using Hutong.Connectors.Abstractions;
using Hutong.Server;
using NetArchTest.Rules;

namespace Hutong.Integration.Tests;

/// <summary>
/// The sandbox wallets are a test and demo tool: the production server and the connectors are built and shipped
/// without them (the demo host, Hutong.Demo, is the one project that brings them together).
/// </summary>
public class ArchitectureTests
{
    [Theory]
    [InlineData(typeof(HubApp))]
    [InlineData(typeof(IWalletConnector))]
    public void Production_assemblies_do_not_depend_on_the_sandbox(Type inAssembly)
    {
        var result = Types.InAssembly(inAssembly.Assembly).ShouldNot().HaveDependencyOnAny("Hutong.Sandbox", "Hutong.Demo").GetResult();

        Assert.True(result.IsSuccessful, $"{inAssembly.Assembly.GetName().Name} types that use the sandbox: {string.Join(", ", result.FailingTypeNames ?? [])}");
        Assert.DoesNotContain(inAssembly.Assembly.GetReferencedAssemblies(), a => a.Name is "Hutong.Sandbox" or "Hutong.Demo");
    }

    /// <summary>A project reference the code does not use yet still ships the sandbox's assembly with the server.</summary>
    [Theory]
    [InlineData("Hutong.Server")]
    [InlineData("Hutong.Connectors")]
    [InlineData("Hutong.Domain")]
    public void Production_projects_do_not_reference_the_sandbox(string project)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Hutong.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var references = System.Xml.Linq.XDocument.Load(Path.Combine(root.FullName, "src", project, $"{project}.csproj"))
            .Descendants("ProjectReference").Select(r => Path.GetFileNameWithoutExtension(((string?)r.Attribute("Include") ?? string.Empty).Replace('\\', '/'))).ToList();
        Assert.DoesNotContain("Hutong.Sandbox", references);
        Assert.DoesNotContain("Hutong.Demo", references);
    }
}
