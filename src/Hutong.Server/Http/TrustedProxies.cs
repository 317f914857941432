using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Hutong.Server.Http;

/// <summary>
/// Hutong:TrustedProxies: the reverse proxies (IPs or CIDR ranges) whose X-Forwarded-For and X-Forwarded-Proto the hub
/// believes. Anyone can send those headers, and the rate limits count per client address, so with none listed they are
/// ignored; a request from a listed proxy takes the client address from the header (walking back through every listed
/// proxy in the chain).
/// </summary>
public static class TrustedProxies
{
    /// <summary>Forwarded-headers settings for the configured proxies, or null when none are (the headers are then ignored).</summary>
    public static ForwardedHeadersOptions? Options(IReadOnlyCollection<string> configured)
    {
        if (configured.Count == 0)
        {
            return null;
        }

        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = null, // stop at the first address that is not a listed proxy, however long the chain
        };
        options.KnownProxies.Clear(); // the defaults trust loopback
        options.KnownIPNetworks.Clear();
        foreach (var entry in configured)
        {
            var text = entry.Trim();
            if (IPAddress.TryParse(text, out var address))
            {
                options.KnownProxies.Add(address);
            }
            else if (System.Net.IPNetwork.TryParse(text, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
            else
            {
                throw new InvalidOperationException($"Hutong:TrustedProxies: '{entry}' is neither an IP address nor a CIDR range (10.0.0.0/8).");
            }
        }

        return options;
    }
}
