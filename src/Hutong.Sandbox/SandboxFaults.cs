using Microsoft.AspNetCore.Http;

namespace Hutong.Sandbox;

/// <summary>Faults a test (or a person at the control API) asks the sandbox to inject.</summary>
public enum SandboxFault
{
    /// <summary>Hang before doing anything: the order is not created.</summary>
    TimeoutBefore,

    /// <summary>Do the work, then hang: the order exists but the caller never hears.</summary>
    TimeoutAfter,

    /// <summary>Answer 500 SYSTEM_ERROR without doing anything.</summary>
    ServerError,

    /// <summary>Answer 400 PARAM_ERROR: a definite business rejection.</summary>
    ParamError,

    /// <summary>Answer with a response signature that does not verify.</summary>
    BadResponseSignature,

    /// <summary>Do not send the payment notification at all (the hub must re-query).</summary>
    DropNotification,

    /// <summary>Send the payment notification twice.</summary>
    DuplicateNotification,

    /// <summary>
    /// Answer late: do the work, then wait the injected delay before answering (the answer still comes, unless the caller
    /// gave up first). On "notify", the notification is sent that much later.
    /// </summary>
    Delay,
}

/// <summary>A fault taken for one call: which, and for <see cref="SandboxFault.Delay"/> how long.</summary>
public readonly record struct InjectedFault(SandboxFault Fault, TimeSpan Delay);

/// <summary>
/// Faults per operation name ("native", "query", "close", "refund", "notify"), consumed one per call. A fault may be
/// scoped to one order by <c>match</c> (the order's <c>attach</c>, which the hub sets to its payment id), so
/// concurrent tests and background re-queries never take each other's faults.
/// </summary>
public sealed class SandboxFaults
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<(SandboxFault Fault, string? Match, TimeSpan Delay)>> _faults = new(StringComparer.Ordinal);

    /// <summary>Bounds what a caller can queue, so the control API cannot be made to hold unbounded memory.</summary>
    public const int MaxCount = 1_000;

    /// <summary>The longest <see cref="SandboxFault.Delay"/>: longer than any wallet call's timeout, short enough to end.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(10);

    private const string LateAnswerKey = "Hutong.Sandbox.LateAnswer";

    public TimeSpan HangFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Queues <paramref name="count"/> faults; <paramref name="delay"/> is required for (and only read by) <see cref="SandboxFault.Delay"/>.</summary>
    public void Inject(string operation, SandboxFault fault, int count = 1, string? match = null, TimeSpan? delay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCount);
        if (fault == SandboxFault.Delay && (delay is not { } d || d <= TimeSpan.Zero || d > MaxDelay))
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, $"a delay fault needs a delay in (0, {MaxDelay}]");
        }

        lock (_gate)
        {
            if (!_faults.TryGetValue(operation, out var list))
            {
                _faults[operation] = list = [];
            }

            for (var i = 0; i < count; i++)
            {
                list.Add((fault, match, fault == SandboxFault.Delay ? delay!.Value : TimeSpan.Zero));
            }
        }
    }

    /// <summary>Takes the first fault for <paramref name="operation"/> that applies to an order with this attach.</summary>
    public SandboxFault? Next(string operation, string? attach) => Take(operation, attach)?.Fault;

    /// <summary>
    /// As <see cref="Next(string, string?)"/> for a request being answered: a <see cref="SandboxFault.Delay"/> is kept on
    /// <paramref name="ctx"/>, and the handler's writer waits it out (<see cref="AnswerLateAsync"/>) once the work is done.
    /// </summary>
    public SandboxFault? Next(string operation, string? attach, HttpContext ctx)
    {
        var taken = Take(operation, attach);
        if (taken is { Fault: SandboxFault.Delay, Delay: var delay })
        {
            ctx.Items[LateAnswerKey] = delay;
        }

        return taken?.Fault;
    }

    /// <summary>
    /// The <see cref="SandboxFault.Delay"/> fault taken for this request, if any: waits before the answer is written. False
    /// when the caller gave up meanwhile (nothing is left to answer; the work stays done, as at a slow wallet).
    /// </summary>
    public static async Task<bool> AnswerLateAsync(HttpContext ctx)
    {
        if (ctx.Items[LateAnswerKey] is not TimeSpan delay)
        {
            return true;
        }

        ctx.Items.Remove(LateAnswerKey);
        try
        {
            await Task.Delay(delay, ctx.RequestAborted);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Takes the first fault for <paramref name="operation"/> that applies to an order with this attach, with its delay.</summary>
    public InjectedFault? Take(string operation, string? attach)
    {
        lock (_gate)
        {
            if (!_faults.TryGetValue(operation, out var list))
            {
                return null;
            }

            var i = list.FindIndex(f => f.Match is null || f.Match == attach);
            if (i < 0)
            {
                return null;
            }

            var fault = new InjectedFault(list[i].Fault, list[i].Delay);
            list.RemoveAt(i);
            return fault;
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _faults.Clear();
        }
    }
}
