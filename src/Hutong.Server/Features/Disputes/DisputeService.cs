using System.Globalization;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Disputes;
using Hutong.Domain.Text;
using Hutong.Server.Features.Files;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Disputes;

/// <summary>
/// POST /v1/disputes/{id}/respond: the reply the buyer reads at the wallet, with evidence images — <c>files</c> uploaded to
/// the hub (POST /v1/files, purpose dispute_evidence), sent to the wallet with the answer, and/or <c>image_ids</c> the
/// wallet already issued — together at most the wallet's maximum (4 at both).
/// </summary>
public sealed record RespondDisputeRequest(string? Text, List<string>? ImageIds, List<string>? Files);

/// <summary>POST /v1/disputes/{id}/refund: all that is left of the payment by default.</summary>
public sealed record DisputeRefundRequest(long? Amount, string? Reason);

/// <summary>
/// Disputes: the wallets' complaints read into the hub (a notification prompts a signed read of the complaint; the sync
/// job lists what a lost notification left out), linked to the payment by its order number, each change committed with
/// its dispute.* event in one transaction and applied only over the row that was read. The merchant's answers go to the
/// wallet first; the dispute is then read again, so the hub shows what the wallet holds, never what it hoped.
/// </summary>
public sealed partial class DisputeService(
    Db db, DisputeStore disputes, FileStore files, WalletRegistry wallets, RefundService refunds, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<DisputeService> log)
{
    private const int MaxHistory = 100;

    /// <summary>The most images an answer carries at any wallet (WeChat response_images ≤ 4; the wallet's own rule is checked too).</summary>
    private const int MaxEvidence = 4;
    private static readonly TimeSpan China = TimeSpan.FromHours(8);

    private DisputeOptions Options => options.Value.Disputes;

    /// <summary>
    /// Reads one complaint from the wallet and brings its dispute up to date. False: the wallet did not answer (the
    /// notification is then refused, so the wallet sends it again). A complaint about no payment of this hub is logged and left.
    /// </summary>
    public async Task<bool> SyncAsync(IDisputeConnector connector, string wallet, string channel, string complaintId, CancellationToken ct)
    {
        var read = await connector.GetComplaintAsync(complaintId, ct);
        if (read is not { Outcome: WalletCallOutcome.Ok, Complaint: { } complaint })
        {
            LogUnread(log, wallet, complaintId, read.Error?.Code ?? "UNKNOWN");
            return read.Outcome == WalletCallOutcome.Rejected && read.Error?.Code == "RESOURCE_NOT_EXISTS"; // not ours: nothing to retry
        }

        var history = await connector.ComplaintHistoryAsync(complaintId, MaxHistory, ct);
        var entries = history.Outcome == WalletCallOutcome.Ok ? history.Entries : null;
        await ApplyAsync(wallet, channel, complaint, entries, ct);
        return true;
    }

    private async Task ApplyAsync(string wallet, string channel, WalletComplaint complaint, IReadOnlyList<WalletComplaintEntry>? entries, CancellationToken ct)
    {
        if (DisputeDecisions.FromWallet(complaint.State, complaint.IncomingUserResponse) is not { } next)
        {
            LogUnknownState(log, wallet, complaint.ComplaintId, complaint.State);
            return;
        }

        var now = time.GetUtcNow();
        var historyJson = entries is null ? null : JsonSerializer.Serialize(entries.Take(MaxHistory).Select(e => new DisputeHistoryDto(
            Actor(e.Operator, e.OperateType), e.OperateType, e.At, e.Details, e.Images)).ToList(), DisputeDto.HistoryJson);
        await db.WriteAsync(async (c, t) =>
        {
            var row = await disputes.ByWalletIdAsync(c, t, wallet, complaint.ComplaintId);
            if (row is null)
            {
                if (complaint.OutTradeNo is null || await disputes.PaymentOfAsync(c, t, wallet, complaint.OutTradeNo) is not { } payment)
                {
                    LogUnlinked(log, wallet, complaint.ComplaintId);
                    return;
                }

                var windows = ResponseWindows.For(wallet);
                row = new DisputeRow
                {
                    Id = Ids.New(Ids.Dispute, now),
                    MerchantId = payment.MerchantId,
                    PaymentId = payment.PaymentId,
                    Wallet = wallet,
                    Channel = payment.Channel ?? channel,
                    WalletDisputeId = complaint.ComplaintId,
                    Currency = payment.Currency,
                    Amount = complaint.Amount,
                    OutTradeNo = complaint.OutTradeNo,
                    WalletTransactionId = complaint.TransactionId,
                    FiledAt = complaint.FiledAt.ToUnixTimeMilliseconds(),
                    RespondBy = DisputeDecisions.RespondBy(complaint.FiledAt, windows).ToUnixTimeMilliseconds(),
                    ResolveBy = (complaint.FiledAt + windows.Resolution).ToUnixTimeMilliseconds(),
                    CreatedAt = now.ToUnixTimeMilliseconds(),
                };
                Fill(row, complaint, next, historyJson, now);
                DisputeDecisions.Observe(null, next, changedOtherwise: false);
                if (await disputes.InsertAsync(c, t, row) != 1)
                {
                    return; // another hub or the sync job recorded it first, with its own event
                }

                await Outbox.AddAsync(c, t, row.MerchantId, "dispute.created", DisputeDto.Of(row), now);
                return;
            }

            var before = (row.WalletStatus, row.FullRefunded, row.AwaitingMerchant, row.ComplaintTimes, row.History, row.Detail);
            var current = DisputeStates.FromWire(row.Status);
            var readVersion = row.Version;
            Fill(row, complaint, next, historyJson ?? row.History, now);
            var changedOtherwise = before != (row.WalletStatus, row.FullRefunded, row.AwaitingMerchant, row.ComplaintTimes, row.History, row.Detail);
            var change = DisputeDecisions.Observe(current, next, changedOtherwise);
            if (change.Event is null)
            {
                return;
            }

            if (!await disputes.UpdateAsync(c, t, row, readVersion))
            {
                LogLostRace(log, row.Id);
                return;
            }

            await Outbox.AddAsync(c, t, row.MerchantId, change.Event, DisputeDto.Of(row), now);
        }, ct);
    }

    private static void Fill(DisputeRow row, WalletComplaint complaint, DisputeState next, string? historyJson, DateTimeOffset now)
    {
        row.Status = next.ToWire();
        row.WalletStatus = complaint.State;
        row.Reason = complaint.ProblemDescription;
        row.ProblemType = complaint.ProblemType;
        row.Detail = complaint.Detail;
        row.RequestedRefund = complaint.ApplyRefundAmount;
        // Sticky: a refund cannot be taken back, and two syncs may apply their wallet reads out of order (the version check
        // only orders the writes) — an older read saying "not yet" must not undo a newer "fully refunded" (seen in CI: the
        // sync after the refund report landed after the REFUND_SUCCESS notification's, and the flag was lost).
        row.FullRefunded = complaint.FullRefunded || row.FullRefunded == 1 ? 1 : 0;
        row.AwaitingMerchant = complaint.IncomingUserResponse ? 1 : 0;
        row.ComplaintTimes = complaint.UserComplaintTimes;
        row.History = historyJson ?? row.History;
        row.UpdatedAt = now.ToUnixTimeMilliseconds();
    }

    /// <summary>
    /// buyer, merchant or wallet: who wrote the step (WeChat names the operator in Chinese and the type says the rest;
    /// Alipay's replier_role is USER, MERCHANT, SYSTEM, AUDITOR or GOVERNMENT).
    /// </summary>
    private static string Actor(string op, string type) =>
        type.StartsWith("USER_", StringComparison.Ordinal) || op is "投诉人" or "USER" ? "buyer"
        : type.StartsWith("MERCHANT_", StringComparison.Ordinal) || op is "商户" or "MERCHANT" ? "merchant"
        : "wallet";

    public async Task<Outcome<DisputeDto>> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await disputes.GetAsync(merchantId, id, ct) is { } d ? Outcome.Ok(DisputeDto.Of(d)) : Failure.NotFound("dispute");

    public async Task<Outcome<DisputeList>> ListAsync(string merchantId, int? limit, string? startingAfter, string? status, string? wallet, string? payment, CancellationToken ct)
    {
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, Ids.Dispute, "a dispute id");
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        if (status is not null && !Enum.GetValues<DisputeState>().Any(s => s.ToWire() == status))
        {
            return Failure.Invalid("status", "status must be needs_response, under_review or closed.");
        }

        if (wallet is not null && !wallets.IsWalletName(wallet))
        {
            return Failure.Invalid("wallet", "wallet must be a wallet this hub knows.");
        }

        if (payment is not null && !Ids.HasPrefix(payment, Ids.Payment))
        {
            return Failure.Invalid("payment", "payment must be a payment id.");
        }

        var (rows, hasMore) = await disputes.ListAsync(merchantId, take, startingAfter, status, wallet, payment, ct);
        var data = rows.Select(DisputeDto.Of).ToList();
        return Outcome.Ok(new DisputeList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    /// <param name="alsoInTransaction">Written with the stored answer, in its transaction (the console's audit line), only when the wallet took the answer.</param>
    public async Task<Outcome<DisputeDto>> RespondAsync(string merchantId, string id, RespondDisputeRequest r, IdempotencyContext? idem, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (r.Text is not { Length: >= 1 and <= 200 } || !PlainText.IsPrintable(r.Text))
        {
            errors["text"] = ["text is 1-200 characters (the wallet's limit), without control characters, bidirectional overrides or unpaired surrogates."];
        }

        if (r.ImageIds is { } images && (images.Count > MaxEvidence || images.Any(i => i is not { Length: >= 1 and <= 512 } || !PlainText.IsPrintable(i) || i.Contains(' ', StringComparison.Ordinal))))
        {
            errors["image_ids"] = [$"image_ids holds at most {MaxEvidence} media ids the wallet issued for uploaded images."];
        }

        if (r.Files is { } fileIds && (fileIds.Count > MaxEvidence || fileIds.Any(f => !Ids.HasPrefix(f, Ids.File)) || fileIds.Distinct(StringComparer.Ordinal).Count() != fileIds.Count))
        {
            errors["files"] = [$"files holds at most {MaxEvidence} distinct file ids (file_…) from POST /v1/files."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var evidence = new List<FileRow>();
        return await ActAsync(merchantId, id, "respond", idem, async (connector, d) =>
            {
                // Every image is checked against the dispute's wallet before anything is sent: a refusal changes nothing anywhere.
                var rules = connector.ComplaintImages;
                if ((r.ImageIds?.Count ?? 0) + (r.Files?.Count ?? 0) > rules.MaxImages)
                {
                    return Failure.Invalid("files", $"{d.Wallet} takes at most {rules.MaxImages} images with an answer (files and image_ids together).");
                }

                foreach (var fileId in r.Files ?? [])
                {
                    if (await files.GetAsync(merchantId, fileId, ct) is not { } file)
                    {
                        return Failure.NotFound("file");
                    }

                    if (file.Purpose != FileService.DisputeEvidence || !rules.Types.Contains(file.Type) || file.Size > rules.MaxBytes)
                    {
                        return Failure.Invalid("files", $"{file.Id} ({file.Type}, {file.Size} bytes) is not an image {d.Wallet} takes: {string.Join(", ", rules.Types)}, at most {rules.MaxBytes} bytes.");
                    }

                    evidence.Add(file);
                }

                return null;
            },
            async (connector, d) =>
            {
                var imageIds = new List<string>(r.ImageIds ?? []);
                foreach (var file in evidence)
                {
                    var uploaded = await WalletImageAsync(connector, d, file, ct);
                    if (uploaded.Outcome != WalletCallOutcome.Ok)
                    {
                        return new ComplaintActionResult(uploaded.Outcome, uploaded.Error); // nothing was answered: the same request may be sent again
                    }

                    imageIds.Add(uploaded.ImageId!);
                }

                return await connector.RespondToComplaintAsync(d.WalletDisputeId, r.Text!, imageIds, ct);
            }, ct, alsoInTransaction);
    }

    /// <summary>
    /// The id the dispute's wallet account issued for the file: the one remembered from an earlier upload (within
    /// Disputes:EvidenceReuse), so an answer sent again after no answer carries the same ids; else the image is uploaded now
    /// (uploading again is harmless) and the new id remembered.
    /// </summary>
    private async Task<ComplaintImageResult> WalletImageAsync(IDisputeConnector connector, DisputeRow dispute, FileRow file, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (await files.WalletImageAsync(file.Id, dispute.Channel, (now - Options.EvidenceReuse).ToUnixTimeMilliseconds(), ct) is { } known)
        {
            return new ComplaintImageResult(WalletCallOutcome.Ok, known, null);
        }

        var content = await files.ContentAsync(dispute.MerchantId, file.Id, ct);
        if (content is null)
        {
            return new ComplaintImageResult(WalletCallOutcome.Rejected, null, new WalletError("FILE_GONE", "the file is no longer stored"));
        }

        var uploaded = await connector.UploadComplaintImageAsync($"{file.Id}.{file.Type}", file.Type, content, ct);
        LogEvidenceUpload(log, dispute.Id, file.Id, dispute.Wallet, uploaded.Outcome.ToString(), uploaded.Error?.Code ?? "-");
        if (uploaded.Outcome == WalletCallOutcome.Ok)
        {
            await files.SaveWalletImageAsync(file.Id, dispute.Channel, uploaded.ImageId!, now.ToUnixTimeMilliseconds(), ct);
        }

        return uploaded;
    }

    /// <param name="alsoInTransaction">Written with the stored answer, in its transaction (the console's audit line), only when the wallet closed it.</param>
    public Task<Outcome<DisputeDto>> CloseAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null) =>
        ActAsync(merchantId, id, "close", idem, (_, _) => Task.FromResult<Failure?>(null), (connector, d) => connector.CompleteComplaintAsync(d.WalletDisputeId, ct), ct, alsoInTransaction);

    /// <summary>
    /// A normal refund of the dispute's payment (ledger, refund.* events, the wallet's refund API), then the approval
    /// reported to the wallet when the buyer asked for a refund. Should the report not get through, the sync job sends it again.
    /// The answer is the refund. <paramref name="alsoInTransaction"/> is written in the refund's transaction (the console's audit line).
    /// </summary>
    public async Task<Outcome<RefundDto>> RefundAsync(string merchantId, string id, DisputeRefundRequest r, IdempotencyContext? idem, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, string, Task>? alsoInTransaction = null)
    {
        if (idem is null)
        {
            return Failure.Invalid("Idempotency-Key", "POST /v1/disputes/{id}/refund needs an Idempotency-Key header.");
        }

        if (r.Reason is { } reason && (reason.Length is 0 or > 80 || !PlainText.IsPrintable(reason)))
        {
            return Failure.Invalid("reason", "reason is 1-80 characters (the wallets' limit), without control characters.");
        }

        if (await disputes.GetAsync(merchantId, id, ct) is not { } dispute)
        {
            return Failure.NotFound("dispute");
        }

        // The dispute names its refund in the refund's own transaction: a crash between the two, and a retry answered from the
        // stored idempotent answer, would otherwise leave a refund the wallet is never told of.
        var refund = await refunds.CreateAsync(merchantId, dispute.PaymentId, new CreateRefundRequest(r.Amount, r.Reason ?? "dispute"), idem, ct,
            async (c, t, refundId) =>
            {
                await Dapper.SqlMapper.ExecuteAsync(c,
                    "UPDATE disputes SET refund_id = @refundId, refund_reported = 0, version = version + 1, updated_at = @now WHERE id = @id",
                    new { refundId, id, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, t);
                if (alsoInTransaction is not null)
                {
                    await alsoInTransaction(c, t, refundId);
                }
            });
        if (!refund.Succeeded)
        {
            return refund;
        }

        await ReportRefundAsync(id, ct);
        return refund;
    }

    /// <summary>Tells the wallet the merchant approved the buyer's refund request (only a REFUND complaint takes it), then reads the complaint again.</summary>
    private async Task ReportRefundAsync(string id, CancellationToken ct)
    {
        var dispute = await db.ReadAsync(c => Dapper.SqlMapper.QuerySingleOrDefaultAsync<DisputeRow?>(c, "SELECT * FROM disputes WHERE id = @id", new { id }), ct);
        if (dispute is not { RefundId: not null, RefundReported: 0 } || await ConnectorAsync(dispute, ct) is not { } connector)
        {
            return;
        }

        if (dispute.ProblemType == "REFUND")
        {
            var reported = await connector.ReportComplaintRefundAsync(dispute.WalletDisputeId, approve: true, null, ct);
            if (reported.Outcome == WalletCallOutcome.Unknown)
            {
                LogRefundReportPending(log, dispute.Id);
                return; // the sync job sends it again
            }

            if (reported.Outcome == WalletCallOutcome.Rejected)
            {
                LogRefundReportRefused(log, dispute.Id, reported.Error?.Code ?? "-");
            }
        }

        await db.WriteAsync((c, t) => Dapper.SqlMapper.ExecuteAsync(c,
            "UPDATE disputes SET refund_reported = 1, version = version + 1 WHERE id = @id AND refund_reported = 0", new { id }, t), ct);
        await SyncAsync(connector, dispute.Wallet, dispute.Channel, dispute.WalletDisputeId, ct);
    }

    /// <param name="check">What the request asks checked against the dispute and its wallet before any wallet call; a failure ends it there.</param>
    private async Task<Outcome<DisputeDto>> ActAsync(
        string merchantId, string id, string action, IdempotencyContext? idem, Func<IDisputeConnector, DisputeRow, Task<Failure?>> check,
        Func<IDisputeConnector, DisputeRow, Task<ComplaintActionResult>> call, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null)
    {
        if (idem is null)
        {
            return Failure.Invalid("Idempotency-Key", $"POST /v1/disputes/{{id}}/{action} needs an Idempotency-Key header.");
        }

        if (await disputes.GetAsync(merchantId, id, ct) is not { } dispute)
        {
            return Failure.NotFound("dispute");
        }

        if (DisputeDecisions.CanAct(DisputeStates.FromWire(dispute.Status), action) is { } refused)
        {
            return refused;
        }

        if (await ConnectorAsync(dispute, ct) is not { } connector)
        {
            return new Failure(FailureKind.Unavailable, "wallet_unavailable", $"{dispute.Wallet} cannot take dispute answers on this hub.");
        }

        if (await check(connector, dispute) is { } bad)
        {
            return bad;
        }

        var result = await call(connector, dispute);
        if (result.Outcome == WalletCallOutcome.Rejected)
        {
            // The wallet refused: nothing changed there or here, and the key stays free for a corrected request.
            return new Failure(FailureKind.Unprocessable, "wallet_refused", "The wallet refused the request.", $"{result.Error?.Code}: {result.Error?.Message}");
        }

        if (result.Outcome == WalletCallOutcome.Unknown)
        {
            return new Failure(FailureKind.Unavailable, "wallet_unavailable", "The wallet did not answer; send the request again with the same Idempotency-Key.")
            {
                RetryAfter = TimeSpan.FromSeconds(5),
            };
        }

        await SyncAsync(connector, dispute.Wallet, dispute.Channel, dispute.WalletDisputeId, ct);
        var after = await disputes.GetAsync(merchantId, id, ct) ?? dispute;
        var answer = Outcome.Ok(DisputeDto.Of(after));
        await db.WriteAsync(async (c, t) =>
        {
            await idem.CompleteAsync(c, t, answer);
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t);
            }
        }, ct);
        return answer;
    }

    private async Task<IDisputeConnector?> ConnectorAsync(DisputeRow dispute, CancellationToken ct) =>
        (await wallets.ChannelAsync(dispute.Channel, ct) ?? (await wallets.WalletsAsync(ct)).GetValueOrDefault(dispute.Wallet)) as IDisputeConnector;

    /// <summary>
    /// The sync job's pass: each wallet account that takes complaints is listed over the last days (bounded pages); a
    /// complaint the hub lacks, or whose state moved, is read and applied. Refund approvals not yet reported are sent again.
    /// </summary>
    public async Task<int> SyncRecentAsync(CancellationToken ct)
    {
        var applied = 0;
        foreach (var dispute in await disputes.UnreportedRefundsAsync(50, ct))
        {
            await ReportRefundAsync(dispute.Id, ct);
        }

        var today = DateOnly.FromDateTime(time.GetUtcNow().ToOffset(China).DateTime);
        var begin = today.AddDays(-Math.Clamp(Options.SyncLookbackDays - 1, 0, 29));
        foreach (var (wallet, connector) in await wallets.WalletsAsync(ct))
        {
            if (connector is not IDisputeConnector complaints)
            {
                continue;
            }

            for (var page = 0; page < Math.Clamp(Options.SyncMaxPages, 1, 100); page++)
            {
                var listed = await complaints.ListComplaintsAsync(begin, today, 50, page * 50, ct);
                if (listed.Outcome != WalletCallOutcome.Ok)
                {
                    LogListFailed(log, wallet, listed.Error?.Code ?? "UNKNOWN");
                    break;
                }

                foreach (var complaint in listed.Complaints)
                {
                    var known = await disputes.ByWalletIdAsync(wallet, complaint.ComplaintId, ct);
                    if (known is null || known.WalletStatus != complaint.State || (known.AwaitingMerchant != 0) != complaint.IncomingUserResponse
                        || (known.FullRefunded != 0) != complaint.FullRefunded)
                    {
                        if (known is null)
                        {
                            LogFoundBySync(log, wallet, complaint.ComplaintId);
                        }

                        var history = await complaints.ComplaintHistoryAsync(complaint.ComplaintId, MaxHistory, ct);
                        await ApplyAsync(wallet, wallet, complaint, history.Outcome == WalletCallOutcome.Ok ? history.Entries : null, ct);
                        applied++;
                    }
                }

                if (listed.Complaints.Count < 50 || (page + 1) * 50 >= listed.TotalCount)
                {
                    break;
                }
            }
        }

        return applied;
    }

    /// <summary>
    /// The deadline job's pass: a dispute whose window closes within WarnBefore gets dispute.deadline_approaching once (in
    /// the transaction that stamps it); one past its window is logged and counted once.
    /// </summary>
    public async Task<int> AlertDeadlinesAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var warn = Options.WarnBefore;
        var alerted = 0;
        foreach (var d in await disputes.DeadlineDueAsync(now.ToUnixTimeMilliseconds(), (now + warn).ToUnixTimeMilliseconds(), Math.Clamp(Options.DeadlineBatch, 1, 1000), ct))
        {
            var alert = DisputeDecisions.Deadline(DisputeStates.FromWire(d.Status), DateTimeOffset.FromUnixTimeMilliseconds(d.RespondBy), now, warn,
                d.ApproachingAlertedAt is not null, d.OverdueAlertedAt is not null);
            if (alert == DeadlineAlert.None)
            {
                continue;
            }

            var overdue = alert == DeadlineAlert.Overdue;
            var stamped = await db.WriteAsync(async (c, t) =>
            {
                if (!await disputes.StampAlertAsync(c, t, d.Id, overdue, now.ToUnixTimeMilliseconds()))
                {
                    return false; // another hub alerted first, or the merchant answered meanwhile
                }

                if (!overdue)
                {
                    await Outbox.AddAsync(c, t, d.MerchantId, "dispute.deadline_approaching", DisputeDto.Of(d), now);
                }

                return true;
            }, ct);
            if (stamped && overdue)
            {
                metrics.DisputeOverdue();
                LogOverdue(log, d.Id, d.Wallet, DateTimeOffset.FromUnixTimeMilliseconds(d.RespondBy).ToString("O", CultureInfo.InvariantCulture));
            }

            alerted += stamped ? 1 : 0;
        }

        return alerted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Dispute {DisputeId}: evidence {FileId} uploaded to {Wallet}: {Outcome} ({Code})")]
    private static partial void LogEvidenceUpload(ILogger logger, string disputeId, string fileId, string wallet, string outcome, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispute: {Wallet} complaint {ComplaintId} could not be read ({Code}); the wallet's retry or the sync job reads it later")]
    private static partial void LogUnread(ILogger logger, string wallet, string complaintId, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispute: {Wallet} complaint {ComplaintId} names no payment of this hub; left unlinked")]
    private static partial void LogUnlinked(ILogger logger, string wallet, string complaintId);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Dispute: {Wallet} complaint {ComplaintId} has unrecognised state {State}; nothing changed")]
    private static partial void LogUnknownState(ILogger logger, string wallet, string complaintId, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dispute {DisputeId}: another hub applied a newer read first; this one is dropped")]
    private static partial void LogLostRace(ILogger logger, string disputeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispute {DisputeId}: the refund approval did not reach the wallet; the sync job sends it again")]
    private static partial void LogRefundReportPending(ILogger logger, string disputeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispute {DisputeId}: the wallet refused the refund approval ({Code}); the refund itself stands")]
    private static partial void LogRefundReportRefused(ILogger logger, string disputeId, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispute sync: listing {Wallet} complaints failed ({Code}); next pass tries again")]
    private static partial void LogListFailed(ILogger logger, string wallet, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispute sync: {Wallet} complaint {ComplaintId} was not notified; found by listing")]
    private static partial void LogFoundBySync(ILogger logger, string wallet, string complaintId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dispute {DisputeId} ({Wallet}) is past its response deadline {RespondBy} without the merchant's answer")]
    private static partial void LogOverdue(ILogger logger, string disputeId, string wallet, string respondBy);
}
