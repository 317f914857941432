using System.Xml.Linq;
using Dapper;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Hutong.Server.Features.Console;

/// <summary>
/// The ASP.NET Core Data Protection key ring in the hub's database (data_protection_keys), so every hub instance on one
/// store protects and unprotects with the same keys: an antiforgery token or cookie issued by one instance is accepted
/// by all. Each key element is sealed with Hutong:MasterKey (AES-256-GCM, <see cref="SecretBox"/>) when one is set —
/// the key ring is then no more readable from a database dump than the wallet credentials; without a master key
/// (local development) it is stored as the framework writes it.
/// </summary>
public sealed class ConsoleKeyRing(Db db, SecretBox secrets, TimeProvider time) : IXmlRepository
{
    /// <summary>One name for every instance: the framework otherwise isolates keys per content root path.</summary>
    public const string ApplicationName = "hutong";

    private sealed record Row(string FriendlyName, string Xml);

    // IXmlRepository is synchronous; the framework reads the ring when it starts using keys and then about once a day
    // (or on a payload whose key it does not know), so blocking here is rare and short.
    public IReadOnlyCollection<XElement> GetAllElements() => db.ReadAsync(async c =>
        (await c.QueryAsync<Row>("SELECT friendly_name, xml FROM data_protection_keys ORDER BY created_at, friendly_name"))
            .Select(r => XElement.Parse(secrets.OpenIfSealed(r.Xml, Aad(r.FriendlyName)))).ToList(), CancellationToken.None).GetAwaiter().GetResult();

    public void StoreElement(XElement element, string friendlyName)
    {
        var xml = secrets.SealIfEnabled(element.ToString(SaveOptions.DisableFormatting), Aad(friendlyName));
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // A key is written once under a new name (key-<guid>); the same name again (a retry) keeps the first.
        db.WriteAsync((c, t) => c.ExecuteAsync(
            "INSERT INTO data_protection_keys (friendly_name, xml, created_at) VALUES (@friendlyName, @xml, @now) ON CONFLICT (friendly_name) DO NOTHING",
            new { friendlyName, xml, now }, t), CancellationToken.None).GetAwaiter().GetResult();
    }

    private static string Aad(string friendlyName) => "data-protection:" + friendlyName;

    public static IServiceCollection AddConsoleKeyRing(IServiceCollection s)
    {
        s.AddDataProtection().SetApplicationName(ApplicationName);
        s.AddSingleton<ConsoleKeyRing>();
        s.AddOptions<KeyManagementOptions>().Configure<ConsoleKeyRing>((o, ring) => o.XmlRepository = ring);
        return s;
    }
}
