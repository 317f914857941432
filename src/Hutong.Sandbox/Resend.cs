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

    /// <summary>
    /// Runs <see cref="UntilAcknowledgedAsync"/> in the background. The returned task completes once the first attempt has
    /// its answer (or has failed, or the schedule was stopped), so a caller can deliver several notifications in an order.
    /// </summary>
    public static Task StartAsync(IReadOnlyList<TimeSpan> schedule, Func<double> timeScale, Func<int, CancellationToken, Task<bool>> deliver, CancellationToken ct)
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            try
            {
                await UntilAcknowledgedAsync(schedule, timeScale, async (attempt, token) =>
                {
                    try
                    {
                        return await deliver(attempt, token);
                    }
                    finally
                    {
                        first.TrySetResult();
                    }
                }, ct);
            }
            finally
            {
                first.TrySetResult();
            }
        }, CancellationToken.None);
        return first.Task;
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
