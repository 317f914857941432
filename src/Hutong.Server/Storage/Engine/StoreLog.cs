using Microsoft.Extensions.Logging;

namespace Hutong.Server.Storage;

/// <summary>
/// How background loops log a failure that is only the store being out of reach (a restart, a fail-over): one warning
/// line with the reason, no stack trace — the loop retries on its next pass, and an outage would otherwise write a stack
/// trace per loop per poll.
/// </summary>
public static partial class StoreLog
{
    /// <summary>Logs <paramref name="e"/> as an outage and returns true when it is one; false leaves it to the caller's own log.</summary>
    public static bool WhenUnavailable(ILogger log, Exception e, string what)
    {
        if (!Db.IsUnavailable(e))
        {
            return false;
        }

        Unavailable(log, what, e.GetBaseException().Message);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{What}: the store is unavailable ({Reason}); retrying on the next pass")]
    private static partial void Unavailable(ILogger logger, string what, string reason);
}
