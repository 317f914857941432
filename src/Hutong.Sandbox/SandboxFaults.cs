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
}

/// <summary>
/// Faults per operation name ("native", "query", "close", "refund", "notify"), consumed one per call. A fault may be
/// scoped to one order by <c>match</c> (the order's <c>attach</c>, which the hub sets to its payment id), so
/// concurrent tests and background re-queries never take each other's faults.
/// </summary>
public sealed class SandboxFaults
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<(SandboxFault Fault, string? Match)>> _faults = new(StringComparer.Ordinal);

    public TimeSpan HangFor { get; set; } = TimeSpan.FromSeconds(30);

    public void Inject(string operation, SandboxFault fault, int count = 1, string? match = null)
    {
        lock (_gate)
        {
            if (!_faults.TryGetValue(operation, out var list))
            {
                _faults[operation] = list = [];
            }

            for (var i = 0; i < count; i++)
            {
                list.Add((fault, match));
            }
        }
    }

    /// <summary>Takes the first fault for <paramref name="operation"/> that applies to an order with this attach.</summary>
    public SandboxFault? Next(string operation, string? attach)
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

            var fault = list[i].Fault;
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
