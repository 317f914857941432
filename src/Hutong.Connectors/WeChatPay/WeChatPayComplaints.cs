using System.Globalization;
using System.Net;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay.Models;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// WeChat Pay consumer complaints v2 (消费者投诉2.0): list, detail, negotiation history, reply, complete, and the refund
/// decision (update-refund-progress). Requests are signed and answers verified like every other call; the actions answer
/// 204. The buyer's phone (payer_phone, encrypted) and openid are never read. See docs/disputes.md for sources.
/// </summary>
public sealed partial class WeChatPayConnector : IDisputeConnector
{
    private const string Complaints = "/v3/merchant-service/complaints-v2";

    /// <summary>The merchant complained about: the sub-merchant in service-provider mode.</summary>
    private string ComplaintedMchId => _options.IsServiceProvider ? _options.SubMchId! : _options.MchId;

    public async Task<ComplaintPageResult> ListComplaintsAsync(DateOnly begin, DateOnly end, int limit, int offset, CancellationToken cancellationToken)
    {
        var query = string.Create(CultureInfo.InvariantCulture,
            $"limit={Math.Clamp(limit, 1, 50)}&offset={Math.Max(0, offset)}&begin_date={begin:yyyy-MM-dd}&end_date={end:yyyy-MM-dd}")
            + (_options.IsServiceProvider ? $"&complainted_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty);
        var reply = await SendAsync(HttpMethod.Get, $"{Complaints}?{query}", null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxComplaintJson.Default.WxComplaintList) is { } list)
        {
            var items = (list.Data ?? []).Take(50).Select(ToComplaint).OfType<WalletComplaint>().ToList();
            return new ComplaintPageResult(WalletCallOutcome.Ok, items, list.TotalCount ?? items.Count, null);
        }

        return new ComplaintPageResult(reply.Outcome == WalletCallOutcome.Ok ? WalletCallOutcome.Unknown : reply.Outcome, [], 0, reply.Error ?? new WalletError("UNREADABLE", "unreadable complaint list"));
    }

    public async Task<ComplaintResult> GetComplaintAsync(string complaintId, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(HttpMethod.Get, $"{Complaints}/{Uri.EscapeDataString(complaintId)}", null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxComplaintJson.Default.WxComplaint) is { } c && ToComplaint(c) is { } complaint)
        {
            return new ComplaintResult(WalletCallOutcome.Ok, complaint, null);
        }

        return new ComplaintResult(reply.Outcome == WalletCallOutcome.Ok ? WalletCallOutcome.Unknown : reply.Outcome, null, reply.Error ?? new WalletError("UNREADABLE", "unreadable complaint"));
    }

    public async Task<ComplaintHistoryResult> ComplaintHistoryAsync(string complaintId, int limit, CancellationToken cancellationToken)
    {
        var take = Math.Clamp(limit, 1, 300);
        var reply = await SendAsync(HttpMethod.Get, string.Create(CultureInfo.InvariantCulture,
            $"{Complaints}/{Uri.EscapeDataString(complaintId)}/negotiation-historys?limit={take}&offset=0"), null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxComplaintJson.Default.WxComplaintHistory) is { } h)
        {
            var entries = (h.Data ?? []).Take(take).Select(e => new WalletComplaintEntry(
                e.LogId ?? string.Empty, e.Operator ?? string.Empty, e.OperateType ?? string.Empty, ParseTime(e.OperateTime) ?? DateTimeOffset.UnixEpoch,
                e.OperateDetails, (e.ImageList ?? []).Take(10).ToList())).ToList();
            return new ComplaintHistoryResult(WalletCallOutcome.Ok, entries, null);
        }

        return new ComplaintHistoryResult(reply.Outcome == WalletCallOutcome.Ok ? WalletCallOutcome.Unknown : reply.Outcome, [], reply.Error ?? new WalletError("UNREADABLE", "unreadable history"));
    }

    /// <summary>
    /// response_images: at most 4 media ids (docs/disputes.md, 回复用户); images "JPG、BMP、PNG … 不能超过2M"
    /// (wechatpay-im/website openapi/v3/merchant-service/images/upload.md).
    /// </summary>
    public ComplaintImageRules ComplaintImages { get; } = new(4, 2 * 1024 * 1024, ["jpg", "png", "bmp"]);

    /// <summary>
    /// POST /v3/merchant-service/images/upload (商户上传反馈图片): multipart/form-data with a <c>meta</c> part
    /// {"filename", "sha256"} and the <c>file</c> part; the signature covers the meta JSON only; the answer is {"media_id"}
    /// (wechatpay-im/website openapi/v3/merchant-service/images/upload.md; wechatpay-axios-plugin lib/multipart.js, lib/decorator.js).
    /// </summary>
    public async Task<ComplaintImageResult> UploadComplaintImageAsync(string fileName, string type, byte[] content, CancellationToken cancellationToken)
    {
        var meta = JsonSerializer.Serialize(new WxImageMeta(fileName, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content))), WxComplaintJson.Default.WxImageMeta);
        using var form = new MultipartFormDataContent();
        var metaPart = new StringContent(meta, System.Text.Encoding.UTF8, "application/json");
        form.Add(metaPart, "meta");
        var filePart = new ByteArrayContent(content);
        filePart.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(type switch { "png" => "image/png", "bmp" => "image/bmp", _ => "image/jpeg" });
        form.Add(filePart, "file", fileName);
        var reply = await SendAsync(HttpMethod.Post, "/v3/merchant-service/images/upload", null, cancellationToken, upload: (form, meta));
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxComplaintJson.Default.WxMediaUpload)?.MediaId is { Length: > 0 and <= 512 } mediaId)
        {
            return new ComplaintImageResult(WalletCallOutcome.Ok, mediaId, null);
        }

        return new ComplaintImageResult(reply.Outcome == WalletCallOutcome.Ok ? WalletCallOutcome.Unknown : reply.Outcome, null,
            reply.Error ?? new WalletError("UNREADABLE", "upload answer without media_id"));
    }

    public async Task<ComplaintActionResult> RespondToComplaintAsync(string complaintId, string text, IReadOnlyList<string> imageIds, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new WxComplaintResponse(ComplaintedMchId, text, imageIds.Count == 0 ? null : imageIds), WxComplaintJson.Default.WxComplaintResponse);
        return Action(await SendAsync(HttpMethod.Post, $"{Complaints}/{Uri.EscapeDataString(complaintId)}/response", body, cancellationToken));
    }

    public async Task<ComplaintActionResult> CompleteComplaintAsync(string complaintId, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new WxComplaintComplete(ComplaintedMchId), WxComplaintJson.Default.WxComplaintComplete);
        return Action(await SendAsync(HttpMethod.Post, $"{Complaints}/{Uri.EscapeDataString(complaintId)}/complete", body, cancellationToken));
    }

    public async Task<ComplaintActionResult> ReportComplaintRefundAsync(string complaintId, bool approve, string? rejectReason, CancellationToken cancellationToken)
    {
        // launch_refund_day 0: the refund is started the same day (the hub sends it right away).
        var body = JsonSerializer.Serialize(new WxComplaintRefundProgress(approve ? "APPROVE" : "REJECT", approve ? 0 : null, approve ? null : rejectReason),
            WxComplaintJson.Default.WxComplaintRefundProgress);
        return Action(await SendAsync(HttpMethod.Post, $"{Complaints}/{Uri.EscapeDataString(complaintId)}/update-refund-progress", body, cancellationToken));
    }

    public async Task<ComplaintActionResult> SetComplaintNotifyUrlAsync(string url, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new WxComplaintNotifyUrl(url), WxComplaintJson.Default.WxComplaintNotifyUrl);
        return Action(await SendAsync(HttpMethod.Post, "/v3/merchant-service/complaint-notifications", body, cancellationToken));
    }

    private static ComplaintActionResult Action(Reply reply) => reply.Outcome == WalletCallOutcome.Ok
        ? ComplaintActionResult.Ok
        : new ComplaintActionResult(reply.Outcome, reply.Error ?? new WalletError(((int)reply.Status).ToString(CultureInfo.InvariantCulture), "no answer"));

    private static WalletComplaint? ToComplaint(WxComplaint c)
    {
        if (c.ComplaintId is not { Length: > 0 and <= 64 } id || c.ComplaintState is not { Length: > 0 } state)
        {
            return null;
        }

        var order = c.OrderInfo?.FirstOrDefault(); // one order per complaint today; the array is reserved for more
        return new WalletComplaint(
            id, state, ParseTime(c.ComplaintTime) ?? DateTimeOffset.UnixEpoch, CutText(c.ComplaintDetail ?? string.Empty, 600), CutOptional(c.ProblemDescription, 200), c.ProblemType,
            order?.OutTradeNo, order?.TransactionId, order?.Amount, c.ApplyRefundAmount, c.FullRefunded ?? false, c.IncomingUserResponse ?? false, c.UserComplaintTimes ?? 1);
    }

    private static DateTimeOffset? ParseTime(string? s) =>
        DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ? at : null;

    private static string CutText(string s, int max) => s.Length <= max ? s : s[..max];

    private static string? CutOptional(string? s, int max) => s is null ? null : CutText(s, max);

    /// <summary>Maps a decrypted COMPLAINT.* resource to a notice; the complaint itself is read with a signed query.</summary>
    internal static NotificationResult ComplaintNotification(WeChatPayVerifiedNotification verified)
    {
        WxComplaintNotice? notice;
        try
        {
            notice = JsonSerializer.Deserialize(verified.Plaintext, WxComplaintJson.Default.WxComplaintNotice);
        }
        catch (JsonException)
        {
            return NotificationResult.Reject("decrypted resource is not a complaint");
        }

        return notice?.ComplaintId is { Length: > 0 and <= 64 } id
            ? new NotificationResult(true, null, verified.Envelope.Id, verified.Envelope.EventType, null, null, Complaint: new ComplaintNotice(id, notice.ActionType))
            : NotificationResult.Reject("complaint notification without complaint_id");
    }
}
