using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox;

public sealed record HoldRequest(string Match);

public sealed record ReleaseRequest(IReadOnlyList<string>? Matches, IReadOnlyList<string>? NotificationIds);

public sealed record ReplayRequest(string NotificationId);

/// <summary>
/// The control endpoints every sandbox wallet has, under its own /sandbox/{wallet} group: faults, time scale, and
/// notifications on demand (hold, release in a chosen order, replay). Refusals are 400 {"code","message"} like the rest
/// of the control API, and change nothing.
/// </summary>
public static class SandboxControl
{
    /// <summary>Names a single release may list: enough for any test, bounded so one call cannot run for ever.</summary>
    public const int MaxReleased = 100;

    public static void MapFaults(RouteGroupBuilder g, SandboxFaults faults)
    {
        g.MapPost("/faults", (FaultRequest f) =>
        {
            var problem =
                string.IsNullOrEmpty(f.Operation) || f.Operation.Length > 64 ? "operation is required (at most 64 characters)" :
                !Enum.IsDefined(f.Fault) ? "fault is not one the sandbox knows" :
                f.Count is < 1 or > SandboxFaults.MaxCount ? $"count must be 1 to {SandboxFaults.MaxCount}" :
                f.Fault == SandboxFault.Delay && (f.DelayMs is not { } ms || ms < 1 || ms > SandboxFaults.MaxDelay.TotalMilliseconds) ? $"a delay fault needs delay_ms, 1 to {SandboxFaults.MaxDelay.TotalMilliseconds:0}" :
                f.Fault != SandboxFault.Delay && f.DelayMs is not null ? "delay_ms is only for the delay fault" : null;
            if (problem is not null)
            {
                return Bad("INVALID_FAULT", problem);
            }

            faults.Inject(f.Operation, f.Fault, f.Count, f.Match, f.DelayMs is { } delay ? TimeSpan.FromMilliseconds(delay) : null);
            return Results.NoContent();
        });
        g.MapDelete("/faults", () =>
        {
            faults.Clear();
            return Results.NoContent();
        });
    }

    /// <summary>POST /time-scale?scale=0.01 multiplies the wallet's resend schedule and its other timed rules; GET reads it.</summary>
    public static void MapTimeScale(RouteGroupBuilder g, Func<double> get, Action<double> set)
    {
        g.MapPost("/time-scale", (double scale) =>
        {
            // A scale of 0 would resend in a tight loop; above 1000 the 24 h schedules would outlast any process.
            if (!double.IsFinite(scale) || scale <= 0 || scale > 1_000)
            {
                return Bad("INVALID_TIME_SCALE", "scale must be a number above 0 and at most 1000 (1 = the wallet's real schedule)");
            }

            set(scale);
            return Results.NoContent();
        });
        g.MapGet("/time-scale", () => Results.Ok(new { scale = get() }));
    }

    /// <summary>
    /// POST /notifications/hold {"match"}, GET /notifications/held, POST /notifications/release {"matches"?,"notification_ids"?},
    /// POST /notifications/replay {"notification_id"}. <paramref name="replay"/> sends one again (null: never sent).
    /// </summary>
    public static void MapNotifications(RouteGroupBuilder g, SandboxNotifications notifications, Func<string, CancellationToken, Task<ReplayResult?>> replay)
    {
        g.MapPost("/notifications/hold", (HoldRequest r) =>
            string.IsNullOrEmpty(r.Match) ? Bad("INVALID_HOLD", "match (the order's attach: the hub's payment id) is required")
            : notifications.Hold(r.Match) ? Results.NoContent()
            : Bad("TOO_MANY_HELD", $"at most {SandboxNotifications.MaxHeld} payments may be held; release some first"));
        g.MapGet("/notifications/held", () => Results.Ok(notifications.Held()));
        g.MapPost("/notifications/release", async (ReleaseRequest r) =>
        {
            var matches = r.Matches ?? [];
            var ids = r.NotificationIds ?? [];
            if (matches.Count + ids.Count is 0 or > MaxReleased || matches.Concat(ids).Any(string.IsNullOrEmpty))
            {
                return Bad("INVALID_RELEASE", $"name 1 to {MaxReleased} matches and/or notification_ids, none empty");
            }

            return Results.Ok(new { released = await notifications.ReleaseAsync(matches, ids) });
        });
        g.MapPost("/notifications/replay", async (ReplayRequest r, CancellationToken ct) =>
            string.IsNullOrEmpty(r.NotificationId) ? Bad("INVALID_REPLAY", "notification_id is required")
            : await replay(r.NotificationId, ct) is { } result ? Results.Ok(result)
            : Results.NotFound(new { code = "NOTIFICATION_NOT_FOUND", message = "no notification was sent with this id (or it is forgotten)" }));
    }

    private static IResult Bad(string code, string message) => Results.BadRequest(new { code, message });
}
