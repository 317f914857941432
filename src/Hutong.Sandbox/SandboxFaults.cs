using System.Collections.Concurrent;

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

    /// <summary>Answer with a response signature that does not verify.</summary>
    BadResponseSignature,

    /// <summary>Do not send the payment notification at all (the hub must re-query).</summary>
    DropNotification,

    /// <summary>Send the payment notification twice.</summary>
    DuplicateNotification,
}

/// <summary>A queue of faults per operation name ("native", "query", "close", "notify"), consumed one per call.</summary>
public sealed class SandboxFaults
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<SandboxFault>> _queues = new(StringComparer.Ordinal);

    public TimeSpan HangFor { get; set; } = TimeSpan.FromSeconds(30);

    public void Inject(string operation, SandboxFault fault, int count = 1)
    {
        var q = _queues.GetOrAdd(operation, _ => new ConcurrentQueue<SandboxFault>());
        for (var i = 0; i < count; i++)
        {
            q.Enqueue(fault);
        }
    }

    public SandboxFault? Next(string operation) =>
        _queues.TryGetValue(operation, out var q) && q.TryDequeue(out var f) ? f : null;

    public void Clear() => _queues.Clear();
}
