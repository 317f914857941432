using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Domain.Subsidies;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Subsidies;

/// <summary>
/// Platform subsidy campaigns: created (idempotent), listed, ended, reported on; offered at the cashier; reserved when a
/// wallet order is created, consumed and posted with the payment's success, released when it fails, expires or the buyer
/// switches wallet (<see cref="IPaymentSubsidies"/>). The amounts and admission are decided in Hutong.Domain
/// (<see cref="SubsidyDecisions"/>); the budget and per-buyer limits are held by conditional UPDATEs of counters, so
/// concurrent buyers can never together pass them.
/// </summary>
public sealed partial class SubsidyService(Db db, LedgerStore ledger, WalletRegistry wallets, TimeProvider time, ILogger<SubsidyService> log) : IPaymentSubsidies
{
    public const string IdPrefix = Ids.SubsidyCampaign;

    private static readonly TimeSpan LongestCampaign = TimeSpan.FromDays(366);

    private static readonly string Active = SubsidyCampaignState.Active.ToWire();

    public async Task<Outcome<SubsidyCampaignDto>> CreateAsync(string merchantId, CreateSubsidyCampaignRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        if (idem is null)
        {
            return Failure.Invalid("Idempotency-Key", "Creating a subsidy campaign needs an Idempotency-Key header.");
        }

        if (await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM merchants WHERE id = @merchantId", new { merchantId }), ct) == 0)
        {
            return Failure.NotFound("merchant");
        }

        var now = time.GetUtcNow();
        var enabled = await wallets.WalletsAsync(ct);
        var errors = Validate(r, enabled.Keys, now);
        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var starts = r.StartsAt ?? now;
        var row = new SubsidyCampaignRow
        {
            Id = $"{IdPrefix}_{Ids.MonotonicV7(now):N}",
            MerchantId = merchantId,
            Name = r.Name!,
            Currency = (r.Currency ?? "CNY").ToUpperInvariant(),
            AmountOff = r.AmountOff,
            PercentOffBps = r.PercentOffBps,
            MaxOff = r.MaxOff,
            Wallets = JsonSerializer.Serialize(r.Wallets!.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()),
            Targeting = ApiJson.Serialize(r.Targeting ?? new SubsidyTargeting(100, null, null, null)),
            Budget = r.Budget!.Value,
            PerBuyerCount = r.PerBuyerLimit?.Count,
            PerBuyerAmount = r.PerBuyerLimit?.Amount,
            HoldoutPercent = r.HoldoutPercent ?? 0,
            StartsAt = starts.ToUnixTimeMilliseconds(),
            EndsAt = r.EndsAt!.Value.ToUnixTimeMilliseconds(),
            Status = Active,
            Metadata = r.Metadata is null ? null : JsonSerializer.Serialize(r.Metadata),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };
        return await db.WriteAsync<Outcome<SubsidyCampaignDto>>(async (c, t) =>
        {
            await c.ExecuteAsync(
                """
                INSERT INTO subsidy_campaigns (id, merchant_id, name, currency, amount_off, percent_off_bps, max_off, wallets, targeting, budget,
                                               committed, overrun, per_buyer_count, per_buyer_amount, holdout_percent, starts_at, ends_at, status, metadata, created_at, updated_at)
                VALUES (@Id, @MerchantId, @Name, @Currency, @AmountOff, @PercentOffBps, @MaxOff, @Wallets, @Targeting, @Budget,
                        0, 0, @PerBuyerCount, @PerBuyerAmount, @HoldoutPercent, @StartsAt, @EndsAt, @Status, @Metadata, @CreatedAt, @UpdatedAt)
                """, row, t);
            var dto = SubsidyCampaignDto.Of(row);
            await Outbox.AddAsync(c, t, merchantId, "subsidy_campaign.created", dto, now);
            var created = Outcome.Created(dto);
            await idem.CompleteAsync(c, t, created);
            return created;
        }, ct);
    }

    internal static Dictionary<string, string[]> Validate(CreateSubsidyCampaignRequest r, IEnumerable<string> enabledWallets, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string k, string m) => errors.TryAdd(k, [m]);
        if (r.Name is not { Length: >= 1 and <= 100 } || !PlainText.IsPrintable(r.Name))
        {
            Add("name", "name is 1-100 characters, without control characters, bidirectional overrides or unpaired surrogates.");
        }

        if (r.Currency is not null && !Currency.TryParse(r.Currency, out _))
        {
            Add("currency", "currency must be a supported ISO 4217 code (CNY).");
        }

        if ((r.AmountOff is null) == (r.PercentOffBps is null))
        {
            Add(r.AmountOff is null ? "amount_off" : "percent_off_bps", "Give exactly one of amount_off (minor units) and percent_off_bps (basis points).");
        }
        else if (r.AmountOff is { } off && off is < 1 or > Money.MaxAmount)
        {
            Add("amount_off", $"amount_off must be 1-{Money.MaxAmount} minor units.");
        }
        else if (r.PercentOffBps is { } bps && bps is < 1 or > 10_000)
        {
            Add("percent_off_bps", "percent_off_bps must be 1-10000 (basis points of the order amount).");
        }

        if (r.MaxOff is { } cap && (cap is < 1 or > Money.MaxAmount || r.PercentOffBps is null))
        {
            Add("max_off", $"max_off caps a percentage: 1-{Money.MaxAmount} minor units, with percent_off_bps.");
        }

        var enabled = enabledWallets.ToHashSet(StringComparer.Ordinal);
        if (r.Wallets is not { Count: >= 1 and <= 10 } || r.Wallets.Any(w => w is null || !enabled.Contains(w)))
        {
            Add("wallets", $"wallets lists 1-10 of: {string.Join(", ", enabled.Order(StringComparer.Ordinal))}.");
        }

        if (r.Targeting is { } target)
        {
            if (target.Percentage is < 0 or > 100)
            {
                Add("targeting.percentage", "targeting.percentage is 0 to 100.");
            }

            foreach (var (name, list) in new[] { ("targeting.allow_users", target.AllowUsers), ("targeting.deny_users", target.DenyUsers), ("targeting.categories", target.Categories) })
            {
                if (list is { Count: > 10_000 } || list?.Any(s => string.IsNullOrWhiteSpace(s) || s.Length > 200 || !PlainText.IsPrintable(s)) == true)
                {
                    Add(name, "lists hold at most 10000 non-empty entries of at most 200 printable characters.");
                }
            }
        }

        if (r.Budget is not { } budget || budget < 1 || budget > Money.MaxBalance)
        {
            Add("budget", $"budget is required: 1-{Money.MaxBalance} minor units.");
        }

        if (r.PerBuyerLimit is { } limit)
        {
            if (limit.Count is null && limit.Amount is null)
            {
                Add("per_buyer_limit", "per_buyer_limit needs count and/or amount.");
            }

            if (limit.Count is < 1 or > 1_000_000)
            {
                Add("per_buyer_limit.count", "per_buyer_limit.count is 1-1000000 subsidised payments.");
            }

            if (limit.Amount is < 1 or > Money.MaxAmount)
            {
                Add("per_buyer_limit.amount", $"per_buyer_limit.amount is 1-{Money.MaxAmount} minor units.");
            }
        }

        if (r.HoldoutPercent is < 0 or > SubsidyHoldout.MaxPercent)
        {
            Add("holdout_percent", $"holdout_percent is 0-{SubsidyHoldout.MaxPercent} (percent of eligible buyers held out of the offer as the control group).");
        }

        var starts = r.StartsAt ?? now;
        if (r.EndsAt is not { } ends)
        {
            Add("ends_at", "ends_at is required.");
        }
        else if (ends <= starts || ends <= now)
        {
            Add("ends_at", "ends_at must be after starts_at and in the future.");
        }
        else if (ends - starts > LongestCampaign)
        {
            Add("ends_at", "A campaign runs at most 366 days.");
        }

        if (r.Metadata is { } m && (m.Count > 20 || m.Any(kv => kv.Key.Length is 0 or > 40 || kv.Value is null || kv.Value.Length > 500)))
        {
            Add("metadata", "metadata holds at most 20 keys of 1-40 characters, values at most 500 characters.");
        }

        return errors;
    }

    public async Task<Outcome<SubsidyCampaignDto>> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<SubsidyCampaignRow?>(
            "SELECT * FROM subsidy_campaigns WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct) is { } row
            ? Outcome.Ok(SubsidyCampaignDto.Of(row))
            : Failure.NotFound("subsidy campaign");

    public async Task<Outcome<SubsidyCampaignList>> ListAsync(string merchantId, int? limit, string? startingAfter, CancellationToken ct)
    {
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, IdPrefix, "a subsidy campaign id");
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        var rows = (await db.ReadAsync(c => c.QueryAsync<SubsidyCampaignRow>(
            "SELECT * FROM subsidy_campaigns WHERE merchant_id = @merchantId" + (startingAfter is null ? string.Empty : " AND id < @startingAfter") + " ORDER BY id DESC LIMIT @n",
            new { merchantId, startingAfter, n = take + 1 }), ct)).ToList();
        var hasMore = rows.Count > take;
        var data = rows.Take(take).Select(SubsidyCampaignDto.Of).ToList();
        return Outcome.Ok(new SubsidyCampaignList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    /// <summary>Ends a campaign now: no new offers or reservations; those already reserved are consumed or released as usual. Ending an ended campaign answers it as it is.</summary>
    public async Task<Outcome<SubsidyCampaignDto>> EndAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return await db.WriteAsync<Outcome<SubsidyCampaignDto>>(async (c, t) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<SubsidyCampaignRow?>("SELECT * FROM subsidy_campaigns WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return Failure.NotFound("subsidy campaign");
            }

            if (SubsidyStates.Campaign.Apply(row.State, SubsidyCampaignState.Ended) is { IsLegal: true, To: var ended })
            {
                var n = await c.ExecuteAsync("UPDATE subsidy_campaigns SET status = @to, ended_at = @at, updated_at = @at WHERE id = @id AND status = @from",
                    new { to = ended.ToWire(), from = row.Status, at = now.ToUnixTimeMilliseconds(), id }, t);
                if (n == 1)
                {
                    row.Status = ended.ToWire();
                    row.EndedAt = now.ToUnixTimeMilliseconds();
                    await Outbox.AddAsync(c, t, merchantId, "subsidy_campaign.ended", SubsidyCampaignDto.Of(row), now);
                }
            }

            var answer = Outcome.Ok(SubsidyCampaignDto.Of(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, answer);
            }

            return answer;
        }, ct);
    }

    public async Task<Outcome<SubsidyCampaignReport>> ReportAsync(string merchantId, string id, CancellationToken ct) =>
        await db.ReadAsync(async c =>
        {
            var row = await c.QuerySingleOrDefaultAsync<SubsidyCampaignRow?>("SELECT * FROM subsidy_campaigns WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId });
            if (row is null)
            {
                return (Outcome<SubsidyCampaignReport>)Failure.NotFound("subsidy campaign");
            }

            var consumedWire = SubsidyReservationState.Consumed.ToWire();
            var reservedWire = SubsidyReservationState.Reserved.ToWire();
            var totals = await c.QuerySingleAsync<(long Consumed, long Returned, long Payments, long Buyers)>(
                """
                SELECT CAST(COALESCE(SUM(subsidy_amount), 0) AS BIGINT), CAST(COALESCE(SUM(subsidy_returned), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT),
                       CAST(COUNT(DISTINCT buyer_id) AS BIGINT)
                FROM payments WHERE subsidy_campaign_id = @id AND subsidy_status = @consumedWire
                """, new { id, consumedWire });
            var reserved = await c.ExecuteScalarAsync<long>(
                "SELECT COALESCE(SUM(subsidy_amount), 0) FROM payments WHERE subsidy_campaign_id = @id AND subsidy_status = @reservedWire", new { id, reservedWire });
            // The offer's views: treatment and unassigned buyers (a control buyer was not shown it).
            var controlWire = HoldoutArm.Control.ToWire();
            var views = (await c.QueryAsync<(string Wallet, long Views)>(
                "SELECT wallet, CAST(COUNT(*) AS BIGINT) FROM subsidy_views WHERE campaign_id = @id AND arm <> @controlWire GROUP BY wallet",
                new { id, controlWire })).ToDictionary(v => v.Wallet, v => v.Views, StringComparer.Ordinal);
            // Paid among the payments the offer was shown for at that wallet: the conversion the measurement needs.
            var paid = (await c.QueryAsync<(string Wallet, long Paid)>(
                """
                SELECT v.wallet, CAST(COUNT(*) AS BIGINT) FROM subsidy_views v JOIN payments p ON p.id = v.payment_id
                WHERE v.campaign_id = @id AND p.subsidy_campaign_id = @id AND p.subsidy_status = @consumedWire AND p.subsidy_wallet = v.wallet
                GROUP BY v.wallet
                """, new { id, consumedWire })).ToDictionary(v => v.Wallet, v => v.Paid, StringComparer.Ordinal);
            // The holdout comparison. An arm's conversion: the payments it viewed that succeeded at the wallet viewed, whether or
            // not with the subsidy (intent to treat: a treated buyer whose reservation the budget refused still counts).
            var succeeded = PaymentStatus.Succeeded.ToWire();
            var armRows = (await c.QueryAsync<(string Wallet, string Arm, long Views, long Paid)>(
                """
                SELECT v.wallet, v.arm, CAST(COUNT(*) AS BIGINT),
                       CAST(COALESCE(SUM(CASE WHEN p.status = @succeeded AND p.wallet = v.wallet THEN 1 ELSE 0 END), 0) AS BIGINT)
                FROM subsidy_views v JOIN payments p ON p.id = v.payment_id WHERE v.campaign_id = @id GROUP BY v.wallet, v.arm
                """, new { id, succeeded })).ToList();
            // Overall per payment, not per (payment, wallet): the cashier shows every covered wallet at once, so one payment's
            // views at two wallets are one buyer's one decision (the interval assumes independent views).
            var overall = (await c.QueryAsync<(string Arm, long Views, long Paid)>(
                """
                SELECT v.arm, CAST(COUNT(DISTINCT v.payment_id) AS BIGINT),
                       CAST(COUNT(DISTINCT CASE WHEN p.status = @succeeded AND p.wallet = v.wallet THEN v.payment_id END) AS BIGINT)
                FROM subsidy_views v JOIN payments p ON p.id = v.payment_id WHERE v.campaign_id = @id GROUP BY v.arm
                """, new { id, succeeded })).ToDictionary(a => a.Arm, a => new ArmCounts(a.Views, a.Paid), StringComparer.Ordinal);
            var treatmentWire = HoldoutArm.Treatment.ToWire();
            var treatmentCost = (await c.QueryAsync<(string Wallet, long Cost)>(
                """
                SELECT p.subsidy_wallet, CAST(COALESCE(SUM(p.subsidy_amount - p.subsidy_returned), 0) AS BIGINT) FROM payments p
                WHERE p.subsidy_campaign_id = @id AND p.subsidy_status = @consumedWire
                  AND EXISTS (SELECT 1 FROM subsidy_views v WHERE v.campaign_id = @id AND v.payment_id = p.id AND v.wallet = p.subsidy_wallet AND v.arm = @treatmentWire)
                GROUP BY p.subsidy_wallet
                """, new { id, consumedWire, treatmentWire })).ToDictionary(x => x.Wallet, x => x.Cost, StringComparer.Ordinal);
            ArmCounts Arm(string wallet, HoldoutArm arm) =>
                armRows.Where(a => a.Wallet == wallet && a.Arm == arm.ToWire()).Select(a => new ArmCounts(a.Views, a.Paid)).FirstOrDefault();
            SubsidyExperiment Experiment(Func<HoldoutArm, ArmCounts> arm, long cost) =>
                SubsidyExperiment.Of(arm(HoldoutArm.Treatment), arm(HoldoutArm.Control), arm(HoldoutArm.Unassigned), cost);

            var byWallet = row.WalletList.Select(w => new SubsidyWalletConversion(
                w, views.GetValueOrDefault(w), paid.GetValueOrDefault(w), Bps(paid.GetValueOrDefault(w), views.GetValueOrDefault(w)),
                Experiment(a => Arm(w, a), treatmentCost.GetValueOrDefault(w)))).ToList();
            var allViews = byWallet.Sum(w => w.Views);
            var allPaid = byWallet.Sum(w => w.Paid);
            return Outcome.Ok(new SubsidyCampaignReport(
                "subsidy_campaign_report", row.Id, row.Currency, row.Budget, row.Committed, reserved, totals.Consumed, totals.Returned,
                totals.Consumed - totals.Returned, row.Overrun, totals.Payments, totals.Buyers, allViews, Bps(allPaid, allViews), row.HoldoutPercent,
                Experiment(a => overall.GetValueOrDefault(a.ToWire()), treatmentCost.Values.Sum()), byWallet));
        }, ct);

    /// <summary>paid / views in basis points, rounded down; 0 without views.</summary>
    private static int Bps(long paid, long views) => views == 0 ? 0 : (int)Math.Min(10_000, paid * 10_000 / views);

    /// <summary>
    /// The cashier's offers: for each wallet, the best subsidy this payment's buyer can have there now (the budget and the
    /// buyer's limits as they stand; the reservation decides for real). Each offer shown is recorded once per payment and
    /// wallet, the report's conversion base, as a treatment view (unassigned without a buyer_id). A control buyer is shown
    /// nothing; where a campaign would have offered them the best subsidy at a wallet, and nothing else is offered there,
    /// that is recorded as the campaign's control view (same admission, same once per payment and wallet).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, SubsidyOffer>> OffersAsync(PaymentRow p, IReadOnlyList<string> offered, bool record, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var result = new Dictionary<string, SubsidyOffer>(StringComparer.Ordinal);
        var campaigns = await db.ReadAsync(c => LiveCampaignsAsync(c, null, p.MerchantId, now), ct);
        if (campaigns.Count == 0)
        {
            return result;
        }

        var facts = Facts(p);
        var key = BuyerKey(p);
        var heldOut = new Dictionary<string, SubsidyOffer>(StringComparer.Ordinal); // a control buyer's would-be offers, never shown
        foreach (var wallet in offered)
        {
            foreach (var campaign in campaigns.OrderBy(c => c.Id, StringComparer.Ordinal))
            {
                var offer = SubsidyDecisions.Offer(campaign.Facts(), facts, wallet, now);
                var pick = offer.Offered ? result : heldOut;
                if (!(offer.Offered || offer.HeldOut) || (pick.TryGetValue(wallet, out var best) && best.Amount >= offer.Amount))
                {
                    continue;
                }

                var mine = IsReserved(p) && p.SubsidyCampaignId == campaign.Id;
                var use = key is null ? default : await db.ReadAsync(c => UseAsync(c, null, campaign.Id, key), ct);
                var limits = new SubsidyLimits(campaign.Budget, campaign.PerBuyerCount, campaign.PerBuyerAmount);
                // This payment's own reservation is not a second use: it is the one the buyer would keep.
                var admitted = mine || SubsidyDecisions.Admit(offer.Amount, campaign.Committed, use, limits) == SubsidyRefusal.None;
                if (admitted)
                {
                    pick[wallet] = offer;
                }
            }
        }

        var views = result.Select(o => (Wallet: o.Key, Campaign: o.Value.CampaignId!,
                Arm: SubsidyHoldout.ArmOf(o.Value.CampaignId!, campaigns.Single(c => c.Id == o.Value.CampaignId).HoldoutPercent, p.BuyerId)))
            .Concat(heldOut.Where(h => !result.ContainsKey(h.Key)).Select(h => (Wallet: h.Key, Campaign: h.Value.CampaignId!, Arm: HoldoutArm.Control)))
            .ToList();
        if (record && views.Count > 0)
        {
            await db.WriteAsync(async (c, t) =>
            {
                foreach (var v in views)
                {
                    await c.ExecuteAsync(
                        "INSERT INTO subsidy_views (campaign_id, wallet, payment_id, arm, created_at) VALUES (@Campaign, @Wallet, @payment, @arm, @now) ON CONFLICT DO NOTHING",
                        new { v.Campaign, v.Wallet, payment = p.Id, arm = v.Arm.ToWire(), now = now.ToUnixTimeMilliseconds() }, t);
                }
            }, ct);
        }

        return result;
    }

    public async Task<long> ReserveAsync(DbConnection c, DbTransaction t, PaymentRow payment, string wallet, DateTimeOffset now)
    {
        var campaigns = await LiveCampaignsAsync(c, t, payment.MerchantId, now);
        var offer = SubsidyDecisions.Best(campaigns.Select(x => x.Facts()), Facts(payment), wallet, now);
        if (IsReserved(payment))
        {
            if (offer.Offered && offer.CampaignId == payment.SubsidyCampaignId && offer.Amount == payment.SubsidyAmount)
            {
                if (payment.SubsidyWallet != wallet)
                {
                    await c.ExecuteAsync("UPDATE payments SET subsidy_wallet = @wallet WHERE id = @Id", new { wallet, payment.Id }, t);
                    payment.SubsidyWallet = wallet;
                }

                return payment.SubsidyAmount; // the same subsidy (a retry, a failover, another wallet the campaign covers alike)
            }

            await ReleaseAsync(c, t, payment, now); // switched to a wallet the offer does not cover (or a better offer)
        }

        if (!offer.Offered)
        {
            return 0;
        }

        var campaign = campaigns.Single(x => x.Id == offer.CampaignId);
        if (!await TryReserveAsync(c, t, campaign, BuyerKey(payment), offer.Amount))
        {
            return 0; // the budget or the buyer's limit is used up: the buyer pays the full amount
        }

        var reserved = SubsidyReservationState.Reserved;
        if (payment.SubsidyStatus is { } s && !SubsidyStates.Reservation.Allows(SubsidyStates.ReservationFromWire(s), reserved))
        {
            throw new IllegalTransitionException($"A {s} subsidy cannot be reserved again.");
        }

        await c.ExecuteAsync(
            "UPDATE payments SET subsidy_campaign_id = @campaign, subsidy_wallet = @wallet, subsidy_amount = @amount, subsidy_status = @status WHERE id = @Id",
            new { campaign = campaign.Id, wallet, amount = offer.Amount, status = reserved.ToWire(), payment.Id }, t);
        payment.SubsidyCampaignId = campaign.Id;
        payment.SubsidyWallet = wallet;
        payment.SubsidyAmount = offer.Amount;
        payment.SubsidyStatus = reserved.ToWire();
        return offer.Amount;
    }

    /// <summary>
    /// The reservation itself: the campaign's committed total and then the buyer's use, each one conditional UPDATE with the
    /// predicate of <see cref="SubsidyDecisions.Admit"/>. Concurrent reservations queue on the campaign's row and each sees
    /// the others' committed amounts, so the budget is never passed by a fen. A buyer over the limit gives the budget back.
    /// </summary>
    private static async Task<bool> TryReserveAsync(DbConnection c, DbTransaction t, SubsidyCampaignRow campaign, string? buyerKey, long amount)
    {
        var took = await c.ExecuteAsync(
            "UPDATE subsidy_campaigns SET committed = committed + @amount WHERE id = @id AND status = @active AND committed <= budget - @amount",
            new { amount, id = campaign.Id, active = Active }, t);
        if (took == 0)
        {
            return false;
        }

        if (buyerKey is null)
        {
            return true;
        }

        await c.ExecuteAsync("INSERT INTO subsidy_buyers (campaign_id, buyer_key, uses, amount) VALUES (@id, @buyerKey, 0, 0) ON CONFLICT DO NOTHING",
            new { id = campaign.Id, buyerKey }, t);
        var sql = "UPDATE subsidy_buyers SET uses = uses + 1, amount = amount + @amount WHERE campaign_id = @id AND buyer_key = @buyerKey"
            + (campaign.PerBuyerCount is null ? string.Empty : " AND uses + 1 <= @count")
            + (campaign.PerBuyerAmount is null ? string.Empty : " AND amount <= @max - @amount");
        if (await c.ExecuteAsync(sql, new { amount, id = campaign.Id, buyerKey, count = campaign.PerBuyerCount ?? 0, max = campaign.PerBuyerAmount ?? 0 }, t) == 1)
        {
            return true;
        }

        await c.ExecuteAsync("UPDATE subsidy_campaigns SET committed = committed - @amount WHERE id = @id", new { amount, id = campaign.Id }, t);
        return false;
    }

    public async Task ReleaseAsync(DbConnection c, DbTransaction t, PaymentRow payment, DateTimeOffset now)
    {
        if (!IsReserved(payment))
        {
            return;
        }

        var released = SubsidyStates.Reservation.Apply(SubsidyReservationState.Reserved, SubsidyReservationState.Released).ToOrThrow();
        var n = await c.ExecuteAsync("UPDATE payments SET subsidy_status = @to WHERE id = @Id AND subsidy_status = @from",
            new { to = released.ToWire(), from = payment.SubsidyStatus, payment.Id }, t);
        if (n == 1)
        {
            await GiveBackAsync(c, t, payment.SubsidyCampaignId!, BuyerKey(payment), payment.SubsidyAmount);
        }

        payment.SubsidyStatus = released.ToWire();
    }

    public async Task ConsumeAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, DateTimeOffset now)
    {
        if (attempt.SubsidyAmount == 0)
        {
            await ReleaseAsync(c, t, payment, now); // paid through an order without the subsidy: the reservation goes back
            return;
        }

        // The paid order's own campaign: the payment's reservation may have moved to another since (the buyer switched wallets).
        if ((attempt.SubsidyCampaignId ?? payment.SubsidyCampaignId) is not { } campaignId || payment.SubsidyStatus is not { } status)
        {
            throw new InvalidOperationException($"Payment {payment.Id}: attempt {attempt.Id} carries a subsidy the payment has no campaign for.");
        }

        var from = SubsidyStates.ReservationFromWire(status);
        var consumed = SubsidyStates.Reservation.Apply(from, SubsidyReservationState.Consumed).ToOrThrow();
        var key = BuyerKey(payment);
        if (from == SubsidyReservationState.Released)
        {
            // The wallet already took the reduced amount: the subsidy is owed. Committed again within the budget if it fits, else an overrun.
            await RecommitAsync(c, t, campaignId, key, attempt.SubsidyAmount);
        }
        else if (campaignId != payment.SubsidyCampaignId || attempt.SubsidyAmount != payment.SubsidyAmount)
        {
            // An older order (placed with another subsidy, or another campaign's) was the one paid: the reservation goes back
            // to where it was taken, and what that order was reduced by is committed to the order's own campaign.
            await GiveBackAsync(c, t, payment.SubsidyCampaignId!, key, payment.SubsidyAmount);
            await RecommitAsync(c, t, campaignId, key, attempt.SubsidyAmount);
        }

        await c.ExecuteAsync("UPDATE payments SET subsidy_status = @to, subsidy_amount = @amount, subsidy_wallet = @wallet, subsidy_campaign_id = @campaignId WHERE id = @Id",
            new { to = consumed.ToWire(), amount = attempt.SubsidyAmount, wallet = attempt.Wallet, campaignId, payment.Id }, t);
        payment.SubsidyStatus = consumed.ToWire();
        payment.SubsidyAmount = attempt.SubsidyAmount;
        payment.SubsidyWallet = attempt.Wallet;
        payment.SubsidyCampaignId = campaignId;
        var money = new Money(attempt.SubsidyAmount, Currency.Parse(payment.Currency));
        await ledger.AppendAsync(c, t, "subsidy_granted", payment.Id, payment.MerchantId, SubsidyPostings.Granted(campaignId, payment.MerchantId, money), now);
    }

    private async Task RecommitAsync(DbConnection c, DbTransaction t, string campaignId, string? key, long amount)
    {
        var fits = await c.ExecuteAsync("UPDATE subsidy_campaigns SET committed = committed + @amount WHERE id = @campaignId AND committed <= budget - @amount",
            new { amount, campaignId }, t);
        if (fits == 0)
        {
            await c.ExecuteAsync("UPDATE subsidy_campaigns SET overrun = overrun + @amount WHERE id = @campaignId", new { amount, campaignId }, t);
            LogOverrun(log, campaignId, amount);
        }

        if (key is not null)
        {
            await c.ExecuteAsync("INSERT INTO subsidy_buyers (campaign_id, buyer_key, uses, amount) VALUES (@campaignId, @key, 0, 0) ON CONFLICT DO NOTHING", new { campaignId, key }, t);
            await c.ExecuteAsync("UPDATE subsidy_buyers SET uses = uses + 1, amount = amount + @amount WHERE campaign_id = @campaignId AND buyer_key = @key",
                new { amount, campaignId, key }, t);
        }
    }

    private static async Task GiveBackAsync(DbConnection c, DbTransaction t, string campaignId, string? key, long amount)
    {
        await c.ExecuteAsync("UPDATE subsidy_campaigns SET committed = committed - @amount WHERE id = @campaignId", new { amount, campaignId }, t);
        if (key is not null)
        {
            await c.ExecuteAsync("UPDATE subsidy_buyers SET uses = uses - 1, amount = amount - @amount WHERE campaign_id = @campaignId AND buyer_key = @key AND uses >= 1 AND amount >= @amount",
                new { amount, campaignId, key }, t);
        }
    }

    private static bool IsReserved(PaymentRow p) =>
        p.SubsidyStatus is { } s && SubsidyStates.ReservationFromWire(s) == SubsidyReservationState.Reserved && p.SubsidyCampaignId is not null;

    private static SubsidyPaymentFacts Facts(PaymentRow p) => new(p.Amount, p.Currency, p.BuyerId, p.ProductCategory, p.ProfitSharing is not null);

    /// <summary>The buyer as the per-buyer counters know them: a hash of the merchant's buyer id, never the id itself.</summary>
    private static string? BuyerKey(PaymentRow p) =>
        string.IsNullOrEmpty(p.BuyerId) ? null : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{p.MerchantId}\n{p.BuyerId}")));

    private static async Task<List<SubsidyCampaignRow>> LiveCampaignsAsync(DbConnection c, DbTransaction? t, string merchantId, DateTimeOffset now) =>
        (await c.QueryAsync<SubsidyCampaignRow>(
            "SELECT * FROM subsidy_campaigns WHERE merchant_id = @merchantId AND status = @active AND starts_at <= @now AND ends_at > @now ORDER BY id LIMIT 50",
            new { merchantId, active = Active, now = now.ToUnixTimeMilliseconds() }, t)).ToList();

    private static async Task<BuyerUse> UseAsync(DbConnection c, DbTransaction? t, string campaignId, string key)
    {
        var row = await c.QuerySingleOrDefaultAsync<(long Uses, long Amount)?>(
            "SELECT CAST(uses AS BIGINT), amount FROM subsidy_buyers WHERE campaign_id = @campaignId AND buyer_key = @key", new { campaignId, key }, t);
        return row is { } r ? new BuyerUse((int)r.Uses, r.Amount) : default;
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Subsidy campaign {CampaignId}: a wallet order reduced by {Amount} was paid after its reservation was released and the budget is spent; recorded as overrun")]
    private static partial void LogOverrun(ILogger logger, string campaignId, long amount);
}
