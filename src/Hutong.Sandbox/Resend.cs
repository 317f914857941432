using Microsoft.AspNetCore.Http;

namespace Hutong.Sandbox;

/// <summary>What the wallets share when they notify merchants and when a fault makes them hang.</summary>
public static class Resend
{
    /// <summary>
    /// Delivers once, then again after each gap of <paramref name="schedule"/> (scaled), until <paramref name="deliver"/>
    /// reports the merchant acknowledged. <paramref name="deliver"/> gets the 1-based attempt number.
    /// </summary>
    public static async Task UntilAcknowledgedAsync(IReadOnlyList<TimeSpan> schedule, Func<double> timeScale, Func<int, CancellationToken, Task<bool>> deliver, CancellationToken ct)
    {
        for (var attempt = 0; attempt <= schedule.Count && !ct.IsCancellationRequested; attempt++)
        {
            if (attempt > 0)
            {
                try
                {
                    await Task.Delay(schedule[attempt - 1] * timeScale(), ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            if (await deliver(attempt + 1, ct))
            {
                return;
            }
        }
    }

    /// <summary>The TimeoutBefore/TimeoutAfter faults: hold the request until the caller gives up, then drop it.</summary>
    public static async Task HangAsync(HttpContext ctx, SandboxFaults faults)
    {
        try
        {
            await Task.Delay(faults.HangFor, ctx.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        ctx.Abort();
    }
}
