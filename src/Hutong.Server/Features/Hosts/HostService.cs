using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Settlement;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payouts;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Hosts;

/// <param name="PayoutAccount">Where the host's statements are paid (optional here; POST /v1/hosts/{id}/payout_account sets it later).</param>
public sealed record CreateHostRequest(string? Name, string? LiveRoom, HostPayoutAccountRequest? PayoutAccount = null);

/// <summary>A host's payout account: the wallet and the host's identity there (Alipay: ALIPAY_USER_ID or ALIPAY_LOGON_ID) and real name.</summary>
public sealed record HostPayoutAccountRequest(string? Wallet, string? Type, string? Identity, string? Name);

public sealed record HostPayoutAccountDto(string Wallet, string Type, string Identity, string? Name);

/// <param name="Model">guaranteed_minimum, revenue_share or greater_of.</param>
/// <param name="StartDate">yyyy-MM-dd (China date); the contract ends by itself six months later.</param>
public sealed record CreateHostContractRequest(string? Host, string? StartDate, string? Model, long? MonthlyGuarantee, int? ShareBasisPoints, string? Currency);

public sealed record ExitHostContractRequest(string? Date);

public sealed record CreateStatementRequest(string? Month);

public sealed record HostDto(string Id, string Object, string Name, string LiveRoom, DateTimeOffset CreatedAt, HostPayoutAccountDto? PayoutAccount = null);

public sealed record HostContractDto(
    string Id, string Object, string Host, string StartDate, string EndDate, string Model, long MonthlyGuarantee, int ShareBasisPoints,
    string Currency, string? ExitedOn, string Status);

public sealed record HostStatementDto(
    string Id, string Object, string Contract, string Month, int ActiveDays, int DaysInMonth, long AttributedSales, long Guarantee, long Share,
    long Payable, long GuaranteeAdvanced, long TrueUp, long TaxableIncome, int TaxRateBasisPoints, long QuickDeduction, long TaxWithheld,
    long NetPayout, string Currency, DateTimeOffset? PaidAt, long CarriedIn = 0, long CarryOut = 0, string? Status = null, string? Payout = null);

/// <summary>
/// Hosts, their contracts and monthly statements. Sales are attributed to a host through the payment's
/// <c>metadata.live_room</c>; a statement counts the host's succeeded payments in the contract's days of that month,
/// net of what was refunded, and posts host cost, host payable and tax withheld to the ledger in the same transaction.
/// </summary>
public sealed class HostService(Db db, LedgerStore ledger, PayoutService payouts, TimeProvider time)
{
    private static readonly Dictionary<string, HostPayModel> Models = new(StringComparer.Ordinal)
    {
        ["guaranteed_minimum"] = HostPayModel.GuaranteedMinimum,
        ["revenue_share"] = HostPayModel.RevenueShare,
        ["greater_of"] = HostPayModel.GreaterOf,
    };

    private sealed class HostRow
    {
        public string Id { get; set; } = string.Empty;

        public string MerchantId { get; set; } = string.Empty;

        public string Name { get; set; } = string.Empty;

        public string LiveRoom { get; set; } = string.Empty;

        public long CreatedAt { get; set; }

        public string? PayoutWallet { get; set; }

        public string? PayoutIdentityType { get; set; }

        public string? PayoutIdentity { get; set; }

        public string? PayoutName { get; set; }

        public HostDto ToDto() => new(Id, "host", Name, LiveRoom, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            PayoutWallet is null ? null : new HostPayoutAccountDto(PayoutWallet, PayoutIdentityType!, PayoutIdentity!, PayoutName));
    }

    private sealed class ContractRow
    {
        public string Id { get; set; } = string.Empty;

        public string MerchantId { get; set; } = string.Empty;

        public string HostId { get; set; } = string.Empty;

        public string StartDate { get; set; } = string.Empty;

        public string Model { get; set; } = string.Empty;

        public long MonthlyGuarantee { get; set; }

        public int ShareBasisPoints { get; set; }

        public string Currency { get; set; } = string.Empty;

        public string? ExitedOn { get; set; }

        public HostContract ToDomain() => new(Id, HostId, DateOnly.ParseExact(StartDate, "yyyy-MM-dd", CultureInfo.InvariantCulture), Models[Model],
            MonthlyGuarantee, ShareBasisPoints, ExitedOn is null ? null : DateOnly.ParseExact(ExitedOn, "yyyy-MM-dd", CultureInfo.InvariantCulture));
    }

    private DateOnly TodayInChina => DateOnly.FromDateTime(time.GetUtcNow().ToOffset(HostContract.ChinaOffset).DateTime);

    public async Task<Outcome<HostDto>> CreateHostAsync(string merchantId, CreateHostRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > 64)
        {
            errors["name"] = ["name is required, at most 64 characters."];
        }
        else if (!PlainText.IsPrintable(r.Name))
        {
            errors["name"] = ["name " + PlainText.Refusal];
        }

        if (string.IsNullOrWhiteSpace(r.LiveRoom) || r.LiveRoom.Length > 64)
        {
            errors["live_room"] = ["live_room is required: payments carrying metadata.live_room with this value are the host's sales."];
        }
        else if (!PlainText.IsPrintable(r.LiveRoom))
        {
            // Matched against payments' metadata.live_room: an invisible character would make a room no sale can match.
            errors["live_room"] = ["live_room " + PlainText.Refusal];
        }

        if (r.PayoutAccount is { } account)
        {
            foreach (var e in ValidateAccount(account))
            {
                errors[e.Key] = e.Value;
            }
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        var row = new HostRow { Id = Ids.New(Ids.Host, now), MerchantId = merchantId, Name = r.Name!.Trim(), LiveRoom = r.LiveRoom!.Trim(), CreatedAt = now.ToUnixTimeMilliseconds() };
        SetAccount(row, r.PayoutAccount);
        try
        {
            return await db.WriteAsync<Outcome<HostDto>>(async (c, t) =>
            {
                await c.ExecuteAsync(
                    """
                    INSERT INTO hosts (id, merchant_id, name, live_room, created_at, payout_wallet, payout_identity_type, payout_identity, payout_name)
                    VALUES (@Id, @MerchantId, @Name, @LiveRoom, @CreatedAt, @PayoutWallet, @PayoutIdentityType, @PayoutIdentity, @PayoutName)
                    """, row, t);
                var result = Outcome.Created(row.ToDto());
                if (idem is not null)
                {
                    await idem.CompleteAsync(c, t, result);
                }

                return result;
            }, ct);
        }
        catch (DbException e) when (Db.IsUniqueViolation(e))
        {
            return Failure.Conflict("live_room_taken", "Another host already has this live room.", param: "live_room");
        }
    }

    /// <summary>Sets (or replaces) where the host's statements are paid; a statement already paying keeps its payout.</summary>
    public async Task<Outcome<HostDto>> SetPayoutAccountAsync(string merchantId, string id, HostPayoutAccountRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var errors = ValidateAccount(r);
        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        return await db.WriteAsync<Outcome<HostDto>>(async (c, t) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<HostRow?>("SELECT * FROM hosts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return Failure.NotFound("host");
            }

            SetAccount(row, r);
            await c.ExecuteAsync(
                "UPDATE hosts SET payout_wallet = @PayoutWallet, payout_identity_type = @PayoutIdentityType, payout_identity = @PayoutIdentity, payout_name = @PayoutName WHERE id = @Id",
                row, t);
            var result = Outcome.Ok(row.ToDto());
            // Where a host's pay goes is worth an event: a changed account (a leaked key, say) is seen, not only its payouts.
            // Without the identity and name: the event says that it changed, a GET says to what.
            await Outbox.AddAsync(c, t, merchantId, "host.payout_account_updated",
                new { id = row.Id, @object = "host", payout_account = new { wallet = row.PayoutWallet, type = row.PayoutIdentityType } }, time.GetUtcNow());
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>The payout checks of the account (wallet, identity kind and form, name), reported under payout_account.*.</summary>
    private static Dictionary<string, string[]> ValidateAccount(HostPayoutAccountRequest a) =>
        PayoutService.Validate(new CreatePayoutRequest(100, "CNY", a.Wallet, new PayoutPayeeRequest(a.Type, a.Identity, a.Name), "host pay", null))
            .ToDictionary(e => "payout_account." + (e.Key.StartsWith("payee.", StringComparison.Ordinal) ? e.Key["payee.".Length..] : e.Key), e => e.Value);

    private static void SetAccount(HostRow row, HostPayoutAccountRequest? a)
    {
        if (a is null)
        {
            return;
        }

        row.PayoutWallet = a.Wallet;
        row.PayoutIdentityType = a.Type;
        // As payouts compare and send it: an e-mail logon id lower-case.
        row.PayoutIdentity = a.Identity!.Contains('@', StringComparison.Ordinal) ? a.Identity.ToLowerInvariant() : a.Identity;
        row.PayoutName = a.Name;
    }

    /// <param name="alsoInTransaction">Written in the contract's transaction with its id (the console's audit line).</param>
    public async Task<Outcome<HostContractDto>> CreateContractAsync(string merchantId, CreateHostContractRequest r, IdempotencyContext? idem, CancellationToken ct,
        Func<DbConnection, DbTransaction, string, Task>? alsoInTransaction = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (r.Model is null || !Models.TryGetValue(r.Model, out var model))
        {
            errors["model"] = ["model must be guaranteed_minimum, revenue_share or greater_of."];
            model = HostPayModel.GreaterOf;
        }

        if (!DateOnly.TryParseExact(r.StartDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var start))
        {
            errors["start_date"] = ["start_date must be a date, yyyy-MM-dd."];
        }

        if (r.MonthlyGuarantee is < 0 or > Money.MaxAmount || (model != HostPayModel.RevenueShare && r.MonthlyGuarantee is not > 0))
        {
            errors["monthly_guarantee"] = [$"monthly_guarantee (minor units, 1–{Money.MaxAmount}) is required for this model."];
        }

        if (model != HostPayModel.GuaranteedMinimum && r.ShareBasisPoints is not (> 0 and <= 10_000))
        {
            errors["share_basis_points"] = ["share_basis_points (1–10000) is required for this model."];
        }

        if (!Domain.Currency.TryParse(r.Currency ?? "CNY", out var currency))
        {
            errors["currency"] = ["Unknown currency."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync<Outcome<HostContractDto>>(async (c, t) =>
        {
            if (r.Host is null || await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM hosts WHERE id = @Host AND merchant_id = @merchantId", new { r.Host, merchantId }, t) == 0)
            {
                return Failure.NotFound("host");
            }

            var row = new ContractRow
            {
                Id = Ids.New(Ids.HostContract, now), MerchantId = merchantId, HostId = r.Host, StartDate = start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                Model = r.Model!, MonthlyGuarantee = model == HostPayModel.RevenueShare ? 0 : r.MonthlyGuarantee!.Value,
                ShareBasisPoints = model == HostPayModel.GuaranteedMinimum ? 0 : r.ShareBasisPoints!.Value, Currency = currency.Code,
            };
            await c.ExecuteAsync(
                """
                INSERT INTO host_contracts (id, merchant_id, host_id, start_date, model, monthly_guarantee, share_basis_points, currency, created_at)
                VALUES (@Id, @MerchantId, @HostId, @StartDate, @Model, @MonthlyGuarantee, @ShareBasisPoints, @Currency, @now)
                """, new { row.Id, row.MerchantId, row.HostId, row.StartDate, row.Model, row.MonthlyGuarantee, row.ShareBasisPoints, row.Currency, now = now.ToUnixTimeMilliseconds() }, t);
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t, row.Id);
            }

            var result = Outcome.Created(ToDto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>The host leaves (at any time): the contract covers no day from <c>date</c> on (default: today in China).</summary>
    /// <param name="alsoInTransaction">Written in the exit's transaction (the console's audit line).</param>
    public async Task<Outcome<HostContractDto>> ExitAsync(string merchantId, string id, ExitHostContractRequest r, IdempotencyContext? idem, CancellationToken ct,
        Func<DbConnection, DbTransaction, Task>? alsoInTransaction = null)
    {
        var date = TodayInChina;
        if (r.Date is not null && !DateOnly.TryParseExact(r.Date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date))
        {
            return Failure.Invalid("date", "date must be yyyy-MM-dd.");
        }

        return await db.WriteAsync<Outcome<HostContractDto>>(async (c, t) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<ContractRow?>("SELECT * FROM host_contracts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return Failure.NotFound("host_contract");
            }

            var contract = row.ToDomain();
            if (row.ExitedOn is not null || date >= contract.TermEnd)
            {
                return Failure.Conflict("contract_already_ended", "The contract has already ended.");
            }

            row.ExitedOn = (date < contract.Start ? contract.Start : date).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            await c.ExecuteAsync("UPDATE host_contracts SET exited_on = @ExitedOn WHERE id = @Id", row, t);
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t);
            }

            var result = Outcome.Ok(ToDto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>
    /// Closes a month for a contract: computes the statement from the host's sales, stores it, and posts it to the
    /// ledger, once. Only months that have ended (China time) can be closed.
    /// </summary>
    public async Task<Outcome<HostStatementDto>> CreateStatementAsync(string merchantId, string id, CreateStatementRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        if (!DateOnly.TryParseExact((r.Month ?? string.Empty) + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var first)
            || first.Year < SettlementCalendar.FirstYear || first.Year > SettlementCalendar.LastYear)
        {
            return Failure.Invalid("month", $"month must be yyyy-MM, between {SettlementCalendar.FirstYear} and {SettlementCalendar.LastYear}.");
        }

        if (!SettlementCalendar.IsMonthOver(first.Year, first.Month, time.GetUtcNow()))
        {
            return Failure.Conflict("month_not_over", "A month can be settled once it is over (China time).");
        }

        var now = time.GetUtcNow();
        return await LedgerLimitedAsync(db.WriteAsync<Outcome<HostStatementDto>>(async (c, t) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<ContractRow?>("SELECT * FROM host_contracts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return Failure.NotFound("host_contract");
            }

            var existing = await c.QuerySingleOrDefaultAsync<string?>("SELECT body FROM host_statements WHERE contract_id = @id AND month = @Month", new { id, r.Month }, t);
            if (existing is not null)
            {
                return Failure.Conflict("statement_exists", "This month is already settled.", existing);
            }

            var contract = row.ToDomain();
            var room = await c.QuerySingleAsync<string>("SELECT live_room FROM hosts WHERE id = @HostId", new { row.HostId }, t);
            var sales = await SalesAsync(c, t, merchantId, contract, row.Currency, room, first.Year, first.Month);
            if (sales is null)
            {
                return OutOfRange($"The host's sales this month are past what the hub settles ({Money.MaxBalance}).");
            }

            var statementId = Ids.New(Ids.HostStatement, now);
            var carried = await ClawbacksAsync(c, t, merchantId, contract, row.Currency, room, statementId);

            var statement = HostSettlement.Monthly(contract, first.Year, first.Month, sales.Value);
            if (statement.Payable > Money.MaxAmount)
            {
                return OutOfRange($"The month's pay ({statement.Payable} minor units) is more than one payment may be ({Money.MaxAmount}); settle it outside the hub.");
            }

            statement = HostSettlement.Carry(statement, Math.Max(carried, -Money.MaxBalance));
            var dto = ToDto(statementId, statement, r.Month!, row.Currency, null);
            await c.ExecuteAsync(
                """
                INSERT INTO host_statements (id, merchant_id, contract_id, month, body, payable, tax, net, created_at, status, settled_sales, carried_in, carry_out)
                VALUES (@statementId, @merchantId, @id, @Month, @body, @Payable, @tax, @net, @now, 'payable', @sales, @carriedIn, @carryOut)
                """,
                new
                {
                    statementId, merchantId, id, r.Month, body = ApiJson.Serialize(dto), statement.Payable, tax = statement.Tax.Tax, net = statement.NetPayout,
                    now = now.ToUnixTimeMilliseconds(), sales, carriedIn = statement.CarriedIn, carryOut = statement.CarryOut,
                }, t);
            if (statement.Gross > 0)
            {
                // The month's pay less the clawbacks carried in; a statement the clawbacks exceed posts nothing (its rest is carried on).
                var lines = new List<LedgerLine>
                {
                    new(Accounts.HostCost(merchantId), row.Currency, statement.Gross),
                    new(Accounts.HostPayable(row.HostId), row.Currency, -statement.NetPayout),
                };
                if (statement.Tax.Tax > 0)
                {
                    lines.Add(new LedgerLine(Accounts.TaxWithheld, row.Currency, -statement.Tax.Tax));
                }

                await ledger.AppendAsync(c, t, "host_statement", statementId, merchantId, lines, now);
            }

            var result = Outcome.Created(dto);
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct));
    }

    private sealed class StatementRow
    {
        public string Id { get; set; } = string.Empty;

        public string Month { get; set; } = string.Empty;

        public string Body { get; set; } = string.Empty;

        public long Net { get; set; }

        public string Status { get; set; } = string.Empty;

        public string? PayoutId { get; set; }

        public long? PaidAt { get; set; }

        public string HostId { get; set; } = string.Empty;

        public string Currency { get; set; } = string.Empty;

        public string? PayoutWallet { get; set; }

        public string? PayoutIdentityType { get; set; }

        public string? PayoutIdentity { get; set; }

        public string? PayoutName { get; set; }
    }

    /// <summary>
    /// Pays a statement's net pay (after the tax withheld and the clawbacks carried in) to the host's payout account through
    /// a payout (checked against the merchant's balance and the payout limits like any other; a refusal changes nothing).
    /// The statement is paying while the payout is in flight, paid when it succeeds, payable again when it fails
    /// (<see cref="HostStatementPayouts"/>). A statement paying or paid is not paid again (409), so a repeated request never
    /// makes a second payout; with an Idempotency-Key a repeat gets the first answer.
    /// </summary>
    public async Task<Outcome<HostStatementDto>> PayStatementAsync(string merchantId, string id, string month, IdempotencyContext? idem, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var result = await LedgerLimitedAsync(db.WriteAsync<Outcome<HostStatementDto>>(async (c, t) =>
        {
            var st = await c.QuerySingleOrDefaultAsync<StatementRow?>(
                """
                SELECT s.id, s.month, s.body, s.net, s.status, s.payout_id, s.paid_at, k.host_id, k.currency,
                       h.payout_wallet, h.payout_identity_type, h.payout_identity, h.payout_name
                FROM host_statements s JOIN host_contracts k ON k.id = s.contract_id JOIN hosts h ON h.id = k.host_id
                WHERE s.contract_id = @id AND s.month = @month AND s.merchant_id = @merchantId
                """, new { id, month, merchantId }, t);
            if (st is null)
            {
                return Failure.NotFound("host_statement");
            }

            var state = HostStatementStates.FromWire(st.Status);
            if (state == HostStatementState.Paid)
            {
                return Failure.Conflict("statement_already_paid", "This statement was already paid out.");
            }

            if (state == HostStatementState.Paying)
            {
                return Failure.Conflict("statement_being_paid", "This statement's payout is in flight.", $"Payout {st.PayoutId} is paying it; it becomes payable again only if that payout fails.");
            }

            HostStatementDto dto;
            if (st.Net <= 0)
            {
                // Nothing to send (the clawbacks carried in took the month's pay): paid as it stands.
                if (!await MoveAsync(c, t, st.Id, HostStatementState.Payable, null, HostStatementState.Paid, null, now))
                {
                    throw new StatementRaceException();
                }

                dto = Dto(st.Body, HostStatementState.Paid, null, now);
                await Outbox.AddAsync(c, t, merchantId, "host_statement.paid", dto, now);
            }
            else
            {
                if (st.PayoutWallet is null)
                {
                    return Failure.Conflict("host_payout_account_missing", "The host has no payout account.",
                        "Set one with POST /v1/hosts/{id}/payout_account (wallet, type, identity, name), then pay the statement.", "payout_account");
                }

                var payout = await payouts.ReserveAsync(c, t, merchantId, new CreatePayoutRequest(
                    st.Net, st.Currency, st.PayoutWallet, new PayoutPayeeRequest(st.PayoutIdentityType, st.PayoutIdentity, st.PayoutName),
                    $"主播结算 {st.Month}", new Dictionary<string, string> { ["host_statement"] = st.Id, ["host_contract"] = id }), st.Id, ct);
                if (payout.Failure is { } refused)
                {
                    return refused; // nothing was written: the balance, a limit or the account refused it before the wallet
                }

                if (!await MoveAsync(c, t, st.Id, HostStatementState.Payable, null, HostStatementState.Paying, payout.Value!.Id, now))
                {
                    throw new StatementRaceException(); // another request started paying it between the read and now: its payout stands, this one rolls back
                }

                dto = Dto(st.Body, HostStatementState.Paying, payout.Value.Id, null);
                await Outbox.AddAsync(c, t, merchantId, "host_statement.paying", dto, now);
            }

            var ok = Outcome.Ok(dto);
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, ok);
            }

            return ok;
        }, ct));
        payouts.Kick(result.Succeeded);
        return result;
    }

    /// <summary>Moves a statement from the state (and payout) it was read in; false when it is no longer there.</summary>
    internal static async Task<bool> MoveAsync(
        DbConnection c, DbTransaction t, string statementId, HostStatementState from, string? fromPayout, HostStatementState to, string? payoutId, DateTimeOffset now)
    {
        HostStatementStates.Machine.Apply(from, to).ToOrThrow();
        return await c.ExecuteAsync(
            """
            UPDATE host_statements SET status = @to, payout_id = @payoutId, paid_at = @paidAt
            WHERE id = @statementId AND status = @from AND (payout_id = @fromPayout OR (payout_id IS NULL AND @fromPayout IS NULL))
            """,
            new
            {
                statementId, from = from.ToWire(), fromPayout, to = to.ToWire(), payoutId,
                paidAt = to == HostStatementState.Paid ? now.ToUnixTimeMilliseconds() : (long?)null,
            }, t) == 1;
    }

    internal static HostStatementDto Dto(string body, HostStatementState state, string? payoutId, DateTimeOffset? paidAt) =>
        JsonSerializer.Deserialize<HostStatementDto>(body, ApiJson.Options)! with { Status = state.ToWire(), Payout = payoutId, PaidAt = paidAt };

    public async Task<Outcome<object>> ListStatementsAsync(string merchantId, string id, CancellationToken ct)
    {
        var statements = await StatementsAsync(merchantId, id, ct);
        // Whether the contract exists is asked of the primary, so a contract just created is never answered 404.
        var exists = await db.ReadAsync(c => c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM host_contracts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);
        return exists == 0 ? Failure.NotFound("host_contract") : Outcome.Ok<object>(new { @object = "list", data = statements });
    }

    /// <summary>A contract's statements by month (a report: they may come from a standby).</summary>
    public async Task<IReadOnlyList<HostStatementDto>> StatementsAsync(string merchantId, string id, CancellationToken ct) =>
        (await db.ReadReplicaAsync(c => c.QueryAsync<(string Body, long? PaidAt, string Status, string? PayoutId)>(
            "SELECT body, paid_at, status, payout_id FROM host_statements WHERE contract_id = @id AND merchant_id = @merchantId ORDER BY month", new { id, merchantId }), ct))
        .Select(r => Dto(r.Body, HostStatementStates.FromWire(r.Status), r.PayoutId, r.PaidAt is { } p ? DateTimeOffset.FromUnixTimeMilliseconds(p) : null)).ToList();

    /// <summary>The host's attributed sales in the contract's days of a month, net of what was refunded until now; null past Money.MaxBalance.</summary>
    private static async Task<long?> SalesAsync(DbConnection c, DbTransaction t, string merchantId, HostContract contract, string currency, string room, int year, int month)
    {
        var (from, to) = contract.ActiveInstants(year, month);
        // Streamed, not buffered: a merchant's month may hold millions of payments (the live room is inside metadata).
        var sales = Int128.Zero; // 128 bits: any number of payments
        await foreach (var p in c.QueryUnbufferedAsync<(long Amount, long Refunded, string? Metadata, string Currency)>(
                           """
                           SELECT amount, amount_refunded, metadata, currency FROM payments
                           WHERE merchant_id = @merchantId AND status = 'succeeded' AND succeeded_at >= @from AND succeeded_at < @to
                           """,
                           new { merchantId, from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds() }, t))
        {
            if (p.Currency == currency && LiveRoomOf(p.Metadata) == room)
            {
                sales += p.Amount - p.Refunded;
            }
        }

        return sales > Money.MaxBalance ? null : (long)sales;
    }

    /// <summary>
    /// What the contract's earlier statements carry into a new one (zero or negative): for each closed month, the pay its
    /// refunds since it closed take back (<see cref="HostSettlement.Clawback"/>), and any statement's rest not yet carried.
    /// Each earlier statement is moved on with a conditional update on what was read, so two statements settled at once
    /// never both take the same clawback: when another got there first, <see cref="StatementRaceException"/> rolls the write back.
    /// A contract has at most seven months, so this reads at most seven statements.
    /// </summary>
    private static async Task<long> ClawbacksAsync(DbConnection c, DbTransaction t, string merchantId, HostContract contract, string currency, string room, string into)
    {
        var earlier = (await c.QueryAsync<(string Id, string Month, string Body, long? SettledSales, long CarryOut, string? CarriedInto)>(
            "SELECT id, month, body, settled_sales, carry_out, carried_into FROM host_statements WHERE contract_id = @Id ORDER BY month",
            new { contract.Id }, t)).ToList();
        var carried = 0L;
        foreach (var e in earlier)
        {
            var settled = e.SettledSales ?? JsonSerializer.Deserialize<HostStatementDto>(e.Body, ApiJson.Options)!.AttributedSales;
            var year = int.Parse(e.Month[..4], CultureInfo.InvariantCulture);
            var month = int.Parse(e.Month[5..], CultureInfo.InvariantCulture);
            var now = await SalesAsync(c, t, merchantId, contract, currency, room, year, month) ?? settled;
            now = Math.Max(0, now);
            if (now < settled)
            {
                carried = checked(carried + HostSettlement.Clawback(contract, year, month, settled, now));
                var moved = await c.ExecuteAsync(
                    "UPDATE host_statements SET settled_sales = @now WHERE id = @Id AND (settled_sales = @settled OR settled_sales IS NULL)",
                    new { now, e.Id, settled }, t);
                if (moved != 1)
                {
                    throw new StatementRaceException();
                }
            }

            if (e.CarryOut < 0 && e.CarriedInto is null)
            {
                carried = checked(carried + e.CarryOut);
                if (await c.ExecuteAsync("UPDATE host_statements SET carried_into = @into WHERE id = @Id AND carried_into IS NULL", new { into, e.Id }, t) != 1)
                {
                    throw new StatementRaceException();
                }
            }
        }

        return carried;
    }

    /// <summary>Another hub moved an earlier statement between this one's read and its update: the whole write rolls back.</summary>
    private sealed class StatementRaceException : Exception;

    private static Failure OutOfRange(string detail) => new(FailureKind.Unprocessable, "amount_out_of_range", "An amount is past the hub's limit.", detail);

    /// <summary>A posting the ledger refused (an account would pass Money.MaxBalance): the write rolled back, nothing changed.</summary>
    private static async Task<Outcome<T>> LedgerLimitedAsync<T>(Task<Outcome<T>> write)
    {
        try
        {
            return await write;
        }
        catch (LedgerLimitException e)
        {
            return Failure.Conflict("ledger_limit", "The ledger cannot take this posting.", e.Message);
        }
        catch (StatementRaceException)
        {
            return Failure.Conflict("statement_race", "Another request changed this contract's statements at the same time; nothing was changed, try again.");
        }
    }

    private static string? LiveRoomOf(string? metadata)
    {
        if (metadata is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(metadata);
        return doc.RootElement.TryGetProperty("live_room", out var v) ? v.GetString() : null;
    }

    /// <summary>The merchant's contracts (or the one named), newest first, at most 500, with their state today: the console's read.</summary>
    public async Task<IReadOnlyList<HostContractDto>> ContractsAsync(string merchantId, string? id, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<ContractRow>(
            "SELECT * FROM host_contracts WHERE merchant_id = @merchantId AND (@id IS NULL OR id = @id) ORDER BY created_at DESC, id DESC LIMIT 500",
            new { merchantId, id }), ct)).Select(ToDto).ToList();

    /// <summary>The merchant's hosts, at most 500 (their payout accounts stay out: the console shows name and live room only).</summary>
    public async Task<IReadOnlyList<HostDto>> HostsAsync(string merchantId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<HostRow>("SELECT * FROM hosts WHERE merchant_id = @merchantId ORDER BY created_at, id LIMIT 500", new { merchantId }), ct))
        .Select(h => h.ToDto() with { PayoutAccount = null }).ToList();

    private HostContractDto ToDto(ContractRow r)
    {
        var c = r.ToDomain();
        var today = TodayInChina;
        var status = today < c.Start ? "scheduled" : c.IsActiveOn(today) ? "active" : c.ExitedOn is not null && c.ExitedOn < c.TermEnd ? "exited" : "ended";
        return new HostContractDto(r.Id, "host_contract", r.HostId, r.StartDate, c.EndExclusive.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), r.Model,
            r.MonthlyGuarantee, r.ShareBasisPoints, r.Currency, r.ExitedOn, status);
    }

    private static HostStatementDto ToDto(string id, HostStatement s, string month, string currency, DateTimeOffset? paidAt) => new(
        id, "host_statement", s.ContractId, month, s.ActiveDays, s.DaysInMonth, s.AttributedSales, s.Guarantee, s.Share, s.Payable, s.GuaranteeAdvanced,
        s.TrueUp, s.Tax.TaxableIncome, s.Tax.RateBasisPoints, s.Tax.QuickDeduction, s.Tax.Tax, s.NetPayout, currency, paidAt, s.CarriedIn, s.CarryOut,
        HostStatementState.Payable.ToWire());
}
