using System.Net;
using System.Net.Sockets;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// SSRF guard for merchant webhook URLs (OWASP API7): https only, no credentials, and no loopback, private,
/// link-local (169.254.169.254), CGNAT, multicast or unspecified targets — checked on the literal at
/// registration and again on every resolved address at connect time, so DNS rebinding cannot slip through.
/// </summary>
public static class WebhookUrlGuard
{
    public static string? Validate(string? url, bool allowPrivate)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > 2048 || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "url must be an absolute URL.";
        }

        if (uri.Scheme != Uri.UriSchemeHttps && !(allowPrivate && uri.Scheme == Uri.UriSchemeHttp))
        {
            return "url must use https.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "url must not contain credentials.";
        }

        if (!allowPrivate)
        {
            if (uri.IsLoopback || uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || uri.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            {
                return "url must not point at this machine.";
            }

            if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IsForbidden(ip))
            {
                return "url must not point at a private, loopback or link-local address.";
            }
        }

        return null;
    }

    public static bool IsForbidden(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }

        if (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) || ip.Equals(IPAddress.Broadcast))
        {
            return true;
        }

        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = ip.GetAddressBytes();
            return b[0] == 10
                || b[0] == 0
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)          // link-local, cloud metadata
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) // CGNAT
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19)) // benchmarking
                || b[0] >= 224;                              // multicast and reserved
        }

        return ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6Multicast || ip.IsIPv6UniqueLocal;
    }

    /// <summary>A handler that resolves the host itself and refuses to connect to a forbidden address.</summary>
    public static SocketsHttpHandler CreateHandler(bool allowPrivate) => new()
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, ct) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
            var allowed = allowPrivate ? addresses : addresses.Where(a => !IsForbidden(a)).ToArray();
            if (allowed.Length == 0)
            {
                throw new HttpRequestException($"Refusing to connect to {context.DnsEndPoint.Host}: it resolves only to forbidden addresses.");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
