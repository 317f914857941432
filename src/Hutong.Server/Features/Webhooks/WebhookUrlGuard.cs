using System.Net;
using System.Net.Sockets;
using Hutong.Domain.Text;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// SSRF guard for merchant webhook URLs (OWASP API7): https only, no credentials, and no loopback, private,
/// link-local (169.254.169.254), CGNAT, multicast or unspecified targets, nor IPv6 addresses that carry one of those
/// (NAT64, 6to4) — checked on the literal at registration and again on every resolved address at connect time, so DNS
/// rebinding cannot slip through; delivery never goes through a proxy, so the address checked is the target's.
/// </summary>
public static class WebhookUrlGuard
{
    public static string? Validate(string? url, bool allowPrivate)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > 2048 || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "url must be an absolute URL.";
        }

        if (!PlainText.IsToken(url))
        {
            // Stored and shown as sent: a trailing newline, an inner space or a bidi control would make the URL we call
            // differ from the one the merchant reads back (Uri percent-encodes them silently).
            return "url must not contain whitespace, control characters, bidirectional controls or invisible characters: percent-encode them.";
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
            // A fully qualified name's trailing dot ("localhost.", "127.0.0.1.") names the same host: checked without it.
            var host = uri.Host.TrimEnd('.');
            if (uri.IsLoopback || host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            {
                return "url must not point at this machine.";
            }

            if (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IsForbidden(ip))
            {
                return "url must not point at a private, loopback or link-local address.";
            }
        }

        return null;
    }

    public static bool IsForbidden(IPAddress ip)
    {
        if (EmbeddedIPv4(ip) is { } embedded)
        {
            ip = embedded;
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
                || (b[0] == 192 && b[1] == 0 && b[2] == 2)     // documentation (RFC 5737): never a merchant's server,
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)  // yet some networks number their own hosts from these
                || (b[0] == 203 && b[1] == 0 && b[2] == 113)
                || (b[0] == 192 && b[1] == 88 && b[2] == 99)   // 6to4 relay anycast (RFC 7526, deprecated)
                || b[0] >= 224;                              // multicast and reserved
        }

        var v6 = ip.GetAddressBytes();
        return ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6Multicast || ip.IsIPv6UniqueLocal
            || (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b && v6[4] == 0 && v6[5] == 1) // NAT64 local use, 64:ff9b:1::/48 (RFC 8215)
            || (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0 && v6[3] == 0)                                    // Teredo, 2001::/32: reaches an IPv4 host through a relay
            || (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8)                              // documentation, 2001:db8::/32 (RFC 3849)
            || (v6[0] == 0x01 && v6[1] == 0x00 && v6.AsSpan(2, 6).IndexOfAnyExcept((byte)0) < 0);              // discard-only, 100::/64 (RFC 6666)
    }

    /// <summary>
    /// The IPv4 address an IPv6 address carries to an IPv4 host, so its class is what is checked: IPv4-mapped
    /// (::ffff:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056) — a gateway
    /// on the path turns 64:ff9b::7f00:1 or 2002:7f00:1:: into 127.0.0.1.
    /// </summary>
    private static IPAddress? EmbeddedIPv4(IPAddress ip)
    {
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4();
        }

        var b = ip.GetAddressBytes();
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return new IPAddress(b.AsSpan(2, 4));
        }

        var nat64 = b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0;
        var compatible = b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0; // also :: and ::1, which land in the forbidden 0.0.0.0/8
        return nat64 || compatible ? new IPAddress(b.AsSpan(12, 4)) : null;
    }

    /// <summary>
    /// True for an address of one of this machine's own interfaces, whatever its class: a public address the hub's host
    /// holds reaches the hub's own listeners and whatever else listens on all interfaces (a black-box probe reached this
    /// machine through its hostname, which resolved to an interface address outside every private range).
    /// </summary>
    internal static bool IsThisMachine(IPAddress ip, IPAddress[] own)
    {
        var target = EmbeddedIPv4(ip) ?? ip; // ::ffff:a.b.c.d, 6to4, NAT64 of one of ours is ours too
        return own.Any(a => a.Equals(ip) || a.Equals(target));
    }

    /// <summary>This machine's interface addresses, read once per connect; none when the interfaces cannot be read (the class checks still apply).</summary>
    internal static IPAddress[] OwnAddresses()
    {
        try
        {
            return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address).ToArray();
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
            return [];
        }
    }

    /// <summary>A handler that resolves the host itself and refuses to connect to a forbidden address or one of this machine's own.</summary>
    public static SocketsHttpHandler CreateHandler(bool allowPrivate) => new()
    {
        AllowAutoRedirect = false,

        // Never through a proxy (HTTPS_PROXY and friends): the connect-time check would see the proxy's address, not the
        // target's, and the proxy would reach whatever the merchant's URL names.
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, ct) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
            var own = allowPrivate ? [] : OwnAddresses();
            var allowed = allowPrivate ? addresses : addresses.Where(a => !IsForbidden(a) && !IsThisMachine(a, own)).ToArray();
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
