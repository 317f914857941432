namespace Hutong.Connectors.Abstractions;

/// <summary>
/// A wallet that lets buyers complain about a payment and the merchant answer (WeChat Pay 消费者投诉2.0). Reads are bounded
/// (one page per call); an action the wallet did not answer is <see cref="WalletCallOutcome.Unknown"/>, and the complaint
/// is read again before anything is concluded. The buyer's contact details never leave the connector.
/// </summary>
public interface IDisputeConnector
{
    /// <summary>One page of the complaints filed between two days (China time), oldest first.</summary>
    Task<ComplaintPageResult> ListComplaintsAsync(DateOnly begin, DateOnly end, int limit, int offset, CancellationToken cancellationToken);

    Task<ComplaintResult> GetComplaintAsync(string complaintId, CancellationToken cancellationToken);

    /// <summary>The complaint's negotiation history, oldest first, at most <paramref name="limit"/> entries.</summary>
    Task<ComplaintHistoryResult> ComplaintHistoryAsync(string complaintId, int limit, CancellationToken cancellationToken);

    /// <summary>What evidence images the wallet takes with an answer: how many, how large, which types.</summary>
    ComplaintImageRules ComplaintImages { get; }

    /// <summary>
    /// Uploads one evidence image to the wallet; the id it issued (WeChat media_id, Alipay image_id) goes with an answer.
    /// Uploading again is harmless (a new id for the same image), so an upload without an answer is simply repeated.
    /// </summary>
    /// <param name="fileName">The name the wallet is told, ending in the type (e.g. <c>file_….jpg</c>).</param>
    /// <param name="type">jpg, png or bmp (read from the bytes).</param>
    Task<ComplaintImageResult> UploadComplaintImageAsync(string fileName, string type, byte[] content, CancellationToken cancellationToken);

    /// <summary>The merchant's reply to the buyer (with image ids the wallet issued for uploads).</summary>
    Task<ComplaintActionResult> RespondToComplaintAsync(string complaintId, string text, IReadOnlyList<string> imageIds, CancellationToken cancellationToken);

    /// <summary>The merchant marks the complaint handled.</summary>
    Task<ComplaintActionResult> CompleteComplaintAsync(string complaintId, CancellationToken cancellationToken);

    /// <summary>The merchant's decision on the buyer's refund request: approved (the refund is made separately) or rejected with a reason.</summary>
    Task<ComplaintActionResult> ReportComplaintRefundAsync(string complaintId, bool approve, string? rejectReason, CancellationToken cancellationToken);

    /// <summary>Where the wallet sends complaint notifications for this account.</summary>
    Task<ComplaintActionResult> SetComplaintNotifyUrlAsync(string url, CancellationToken cancellationToken);
}

/// <summary>A complaint as the hub keeps it: no buyer phone, no buyer id.</summary>
/// <param name="State">The wallet's state word (WeChat: PENDING, PROCESSING, PROCESSED).</param>
/// <param name="ProblemType">REFUND (the buyer asks for a refund), SERVICE_NOT_WORK, OTHERS.</param>
public sealed record WalletComplaint(
    string ComplaintId, string State, DateTimeOffset FiledAt, string Detail, string? ProblemDescription, string? ProblemType,
    string? OutTradeNo, string? TransactionId, long? Amount, long? ApplyRefundAmount, bool FullRefunded, bool IncomingUserResponse, int UserComplaintTimes);

/// <summary>One step of the negotiation: who (buyer, merchant, platform), what kind (the wallet's word), when, and the text.</summary>
public sealed record WalletComplaintEntry(string LogId, string Operator, string OperateType, DateTimeOffset At, string? Details, IReadOnlyList<string> Images);

public sealed record ComplaintPageResult(WalletCallOutcome Outcome, IReadOnlyList<WalletComplaint> Complaints, int TotalCount, WalletError? Error);

public sealed record ComplaintResult(WalletCallOutcome Outcome, WalletComplaint? Complaint, WalletError? Error);

public sealed record ComplaintHistoryResult(WalletCallOutcome Outcome, IReadOnlyList<WalletComplaintEntry> Entries, WalletError? Error);

public sealed record ComplaintActionResult(WalletCallOutcome Outcome, WalletError? Error)
{
    public static ComplaintActionResult Ok { get; } = new(WalletCallOutcome.Ok, null);
}

/// <summary>The evidence images a wallet takes with one answer.</summary>
/// <param name="MaxImages">At most this many images per answer.</param>
/// <param name="MaxBytes">Each image at most this many bytes.</param>
/// <param name="Types">The types it takes (jpg, png, bmp).</param>
public sealed record ComplaintImageRules(int MaxImages, long MaxBytes, IReadOnlyList<string> Types);

/// <summary>An uploaded image's id at the wallet, or why there is none (Unknown: no answer; upload again).</summary>
public sealed record ComplaintImageResult(WalletCallOutcome Outcome, string? ImageId, WalletError? Error);

/// <summary>A verified complaint notification: which complaint, and what happened (WeChat action_type, e.g. CREATE_COMPLAINT).</summary>
public sealed record ComplaintNotice(string ComplaintId, string? ActionType);
