using Hutong.Domain;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// Where one event's delivery to one endpoint is: exactly the values of webhook_deliveries.status, mapped to and from
/// those strings where a row is read (the dispatcher's SQL names them itself).
/// </summary>
public enum DeliveryStatus
{
    /// <summary>Waiting for its next send (or being sent under a lease).</summary>
    Pending,

    /// <summary>The endpoint answered 2xx.</summary>
    Delivered,

    /// <summary>The retry schedule ran out (or the endpoint answered 410).</summary>
    Failed,

    /// <summary>The endpoint was deleted or disabled before it was delivered.</summary>
    Canceled,
}

public static class DeliveryStatusNames
{
    public static DeliveryStatus FromWire(string s) => WireName<DeliveryStatus>.Parse(s, "webhook delivery status");
}
