using System.Diagnostics.Metrics;

namespace Hutong.Server;

/// <summary>Counters an operator alerts on (exported through OpenTelemetry or dotnet-counters, meter "Hutong").</summary>
public sealed class HubMetrics : IDisposable
{
    public const string MeterName = "Hutong";
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _succeeded;
    private readonly Counter<long> _unknown;
    private readonly Counter<long> _unresolved;
    private readonly Counter<long> _amountMismatch;
    private readonly Counter<long> _currencyMismatch;
    private readonly Counter<long> _lateSuccess;
    private readonly Counter<long> _doubleCapture;
    private readonly Counter<long> _walletContradictions;
    private readonly Counter<long> _notificationsRejected;
    private readonly Counter<long> _webhooksFailed;
    private readonly Counter<long> _clicksDropped;
    private readonly Counter<long> _disputesOverdue;
    private readonly Counter<long> _jobItems;
    private readonly Histogram<double> _jobPasses;

    public HubMetrics()
    {
        _succeeded = _meter.CreateCounter<long>("hutong.payments.succeeded");
        _unknown = _meter.CreateCounter<long>("hutong.payments.unknown");
        _unresolved = _meter.CreateCounter<long>("hutong.payments.unknown_unresolved", description: "UNKNOWN payments whose re-query schedule ended unresolved: page someone.");
        _amountMismatch = _meter.CreateCounter<long>("hutong.payments.amount_mismatch");
        _currencyMismatch = _meter.CreateCounter<long>("hutong.payments.currency_mismatch");
        _lateSuccess = _meter.CreateCounter<long>("hutong.payments.late_success");
        _doubleCapture = _meter.CreateCounter<long>("hutong.payments.double_capture");
        _walletContradictions = _meter.CreateCounter<long>("hutong.payments.wallet_contradictions",
            description: "Wallet answers that contradict a success already recorded (closed, unpaid or failed after paid): ignored, check the order.");
        _notificationsRejected = _meter.CreateCounter<long>("hutong.notifications.rejected");
        _webhooksFailed = _meter.CreateCounter<long>("hutong.webhooks.failed");
        _clicksDropped = _meter.CreateCounter<long>("hutong.links.clicks_dropped", description: "Click counts dropped because the counter queue was full.");
        _disputesOverdue = _meter.CreateCounter<long>("hutong.disputes.overdue", description: "Disputes past their response deadline without the merchant's answer.");
        _jobItems = _meter.CreateCounter<long>("hutong.jobs.items", "{item}", "Rows a background job worked on, by job and outcome (processed, failed).");
        _jobPasses = _meter.CreateHistogram<double>("hutong.jobs.pass.duration", "s", "How long one pass of a background job took, by job and outcome (ok, failed, skipped).");
    }

    public Meter Meter => _meter;

    public void Succeeded() => _succeeded.Add(1);

    public void WentUnknown() => _unknown.Add(1);

    public void UnknownUnresolved() => _unresolved.Add(1);

    public void AmountMismatch() => _amountMismatch.Add(1);

    public void CurrencyMismatch() => _currencyMismatch.Add(1);

    public void LateSuccess() => _lateSuccess.Add(1);

    public void DoubleCapture() => _doubleCapture.Add(1);

    public void WalletContradiction() => _walletContradictions.Add(1);

    public void NotificationRejected() => _notificationsRejected.Add(1);

    public void WebhookFailed() => _webhooksFailed.Add(1);

    public void ClickDropped() => _clicksDropped.Add(1);

    /// <summary>A dispute passed its response deadline without the merchant's answer (counted once per dispute).</summary>
    public void DisputeOverdue() => _disputesOverdue.Add(1);

    /// <summary>The metrics of one background job, tagged with its name.</summary>
    public JobMeter Job(string name) => new(name, _jobItems, _jobPasses);

    public void Dispose() => _meter.Dispose();
}

/// <summary>One background job's items and passes (instruments shared by all jobs, tagged "job").</summary>
public sealed class JobMeter(string job, Counter<long> items, Histogram<double> passes)
{
    public string Job => job;

    public void Processed(long n = 1) => Items(n, "processed");

    public void Failed(long n = 1) => Items(n, "failed");

    /// <summary>A pass that ran (ok or failed), or was skipped because another hub holds the job's lock.</summary>
    public void Pass(TimeSpan elapsed, string outcome) =>
        passes.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("job", job), new KeyValuePair<string, object?>("outcome", outcome));

    private void Items(long n, string outcome)
    {
        if (n > 0)
        {
            items.Add(n, new KeyValuePair<string, object?>("job", job), new KeyValuePair<string, object?>("outcome", outcome));
        }
    }
}
