namespace Hutong.Connectors.Tests;

/// <summary>The protocol vectors under Samples/ (copied next to the test assembly); where each came from is in Samples/SOURCES.md.</summary>
internal static class Samples
{
    public static string PathOf(string wallet, string name) => Path.Combine(AppContext.BaseDirectory, "Samples", wallet, name);

    public static byte[] Bytes(string wallet, string name) => File.ReadAllBytes(PathOf(wallet, name));

    public static string Text(string wallet, string name) => File.ReadAllText(PathOf(wallet, name), System.Text.Encoding.UTF8);
}
