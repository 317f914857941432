using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Settlement;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Hosts;

public sealed record CreateHostRequest(string? Name, string? LiveRoom);

/// <param name="Model">guaranteed_minimum, revenue_share or greater_of.</param>
/// <param name="StartDate">yyyy-MM-dd (China date); the contract ends by itself six months later.</param>
public sealed record CreateHostContractRequest(string? Host, string? StartDate, string? Model, long? MonthlyGuarantee, int? ShareBasisPoints, string? Currency);

public sealed record ExitHostContractRequest(string? Date);

public sealed record CreateStatementRequest(string? Month);

public sealed record HostDto(string Id, string Object, string Name, string LiveRoom, DateTimeOffset CreatedAt);

public sealed record HostContractDto(
    string Id, string Object, string Host, string StartDate, string EndDate, string Model, long MonthlyGuarantee, int ShareBasisPoints,
    string Currency, string? ExitedOn, string Status);

public sealed record HostStatementDto(
    string Id, string Object, string Contract, string Month, int ActiveDays, int DaysInMonth, long AttributedSales, long Guarantee, long Share,
    long Payable, long GuaranteeAdvanced, long TrueUp, long TaxableIncome, int TaxRateBasisPoints, long QuickDeduction, long TaxWithheld,
    long NetPayout, string Currency, DateTimeOffset? PaidAt);

/// <summary>
/// Hosts, their contracts and monthly statements. Sales are attributed to a host through the payment's
/// <c>metadata.live_room</c>; a statement counts the host's succeeded payments in the contract's days of that month,
/// net of what was refunded, and posts host cost, host payable and tax withheld to the ledger in the same transaction.
/// </summary>
public sealed class HostService(Db db, LedgerStore ledger, TimeProvider time)
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

        if (string.IsNullOrWhiteSpace(r.LiveRoom) || r.LiveRoom.Length > 64)
        {
            errors["live_room"] = ["live_room is required: payments carrying metadata.live_room with this value are the host's sales."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        var row = new HostRow { Id = Ids.New(Ids.Host, now), MerchantId = merchantId, Name = r.Name!.Trim(), LiveRoom = r.LiveRoom!.Trim(), CreatedAt = now.ToUnixTimeMilliseconds() };
        try
        {
            return await db.WriteAsync<Outcome<HostDto>>(async (c, t) =>
            {
                await c.ExecuteAsync("INSERT INTO hosts (id, merchant_id, name, live_room, created_at) VALUES (@Id, @MerchantId, @Name, @LiveRoom, @CreatedAt)", row, t);
                var result = Outcome.Created(new HostDto(row.Id, "host", row.Name, row.LiveRoom, now));
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

    public async Task<Outcome<HostContractDto>> CreateContractAsync(string merchantId, CreateHostContractRequest r, IdempotencyContext? idem, CancellationToken ct)
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
            var result = Outcome.Created(ToDto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>The host leaves (at any time): the contract covers no day from <c>date</c> on (default: today in China).</summary>
    public async Task<Outcome<HostContractDto>> ExitAsync(string merchantId, string id, ExitHostContractRequest r, IdempotencyContext? idem, CancellationToken ct)
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
            var (from, to) = contract.ActiveInstants(first.Year, first.Month);
            var sales = (await c.QueryAsync<(long Amount, long Refunded, string? Metadata, string Currency)>(
                    """
                    SELECT amount, amount_refunded, metadata, currency FROM payments
                    WHERE merchant_id = @merchantId AND status = 'succeeded' AND succeeded_at >= @from AND succeeded_at < @to
                    """,
                    new { merchantId, from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds() }, t))
                .Where(p => p.Currency == row.Currency && LiveRoomOf(p.Metadata) == room)
                .Aggregate(Int128.Zero, (sum, p) => sum + p.Amount - p.Refunded); // 128 bits: any number of payments
            if (sales > Money.MaxBalance)
            {
                return OutOfRange($"The host's sales this month ({sales} minor units) are past what the hub settles ({Money.MaxBalance}).");
            }

            var statement = HostSettlement.Monthly(contract, first.Year, first.Month, checked((long)sales));
            if (statement.Payable > Money.MaxAmount)
            {
                return OutOfRange($"The month's pay ({statement.Payable} minor units) is more than one payment may be ({Money.MaxAmount}); settle it outside the hub.");
            }

            var statementId = Ids.New(Ids.HostStatement, now);
            var dto = ToDto(statementId, statement, r.Month!, row.Currency, null);
            await c.ExecuteAsync(
                """
                INSERT INTO host_statements (id, merchant_id, contract_id, month, body, payable, tax, net, created_at)
                VALUES (@statementId, @merchantId, @id, @Month, @body, @Payable, @tax, @net, @now)
                """,
                new { statementId, merchantId, id, r.Month, body = ApiJson.Serialize(dto), statement.Payable, tax = statement.Tax.Tax, net = statement.NetPayout, now = now.ToUnixTimeMilliseconds() }, t);
            if (statement.Payable > 0)
            {
                var lines = new List<LedgerLine>
                {
                    new(Accounts.HostCost(merchantId), row.Currency, statement.Payable),
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

    /// <summary>Records that a statement's net pay went out, and posts the payout.</summary>
    public async Task<Outcome<HostStatementDto>> PayStatementAsync(string merchantId, string id, string month, IdempotencyContext? idem, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return await LedgerLimitedAsync(db.WriteAsync<Outcome<HostStatementDto>>(async (c, t) =>
        {
            var s = await c.QuerySingleOrDefaultAsync<(string Id, string Body, long Net, long? PaidAt, string HostId, string Currency)?>(
                """
                SELECT s.id, s.body, s.net, s.paid_at, k.host_id, k.currency FROM host_statements s JOIN host_contracts k ON k.id = s.contract_id
                WHERE s.contract_id = @id AND s.month = @month AND s.merchant_id = @merchantId
                """, new { id, month, merchantId }, t);
            if (s is not { } st)
            {
                return Failure.NotFound("host_statement");
            }

            if (st.PaidAt is not null)
            {
                return Failure.Conflict("statement_already_paid", "This statement was already paid out.");
            }

            if (st.Net > 0)
            {
                await ledger.AppendAsync(c, t, "host_payout", st.Id, merchantId,
                    [new LedgerLine(Accounts.HostPayable(st.HostId), st.Currency, st.Net), new LedgerLine(Accounts.PayoutClearing, st.Currency, -st.Net)], now);
            }

            await c.ExecuteAsync("UPDATE host_statements SET paid_at = @at WHERE id = @Id", new { at = now.ToUnixTimeMilliseconds(), st.Id }, t);
            var dto = JsonSerializer.Deserialize<HostStatementDto>(st.Body, ApiJson.Options)! with { PaidAt = now };
            var result = Outcome.Ok(dto);
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct));
    }

    public async Task<Outcome<object>> ListStatementsAsync(string merchantId, string id, CancellationToken ct)
    {
        // The statements (a report) may come from a standby; whether the contract exists is asked of the primary, so a
        // contract just created is never answered 404.
        var rows = (await db.ReadReplicaAsync(c => c.QueryAsync<(string Body, long? PaidAt)>(
            "SELECT body, paid_at FROM host_statements WHERE contract_id = @id AND merchant_id = @merchantId ORDER BY month", new { id, merchantId }), ct)).ToList();
        var exists = await db.ReadAsync(c => c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM host_contracts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);
        return exists == 0
            ? Failure.NotFound("host_contract")
            : Outcome.Ok<object>(new
            {
                @object = "list",
                data = rows.Select(r => JsonSerializer.Deserialize<HostStatementDto>(r.Body, ApiJson.Options)! with
                {
                    PaidAt = r.PaidAt is { } p ? DateTimeOffset.FromUnixTimeMilliseconds(p) : null,
                }).ToList(),
            });
    }

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
        s.TrueUp, s.Tax.TaxableIncome, s.Tax.RateBasisPoints, s.Tax.QuickDeduction, s.Tax.Tax, s.NetPayout, currency, paidAt);
}
