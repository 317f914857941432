using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Workers;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>The payment worker's jobs when a wallet misbehaves: one that hangs delays only its own rows, a poisoned row backs off.</summary>
public abstract class WorkerFairnessTests(HubFixture hub)
{
    private async Task<(ApiClient M, string Id, string CodeUrl)> PendingAsync(ApiClient m, string wallet, long amount = 1500)
    {
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id, wallet: wallet);
        Assert.Equal("pending", confirm.Str("status"));
        return (m, id, confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
    }

    [Fact]
    public async Task An_unrelated_payment_expires_on_time_while_WeChat_hangs_on_close()
    {
        // Twelve WeChat payments of one merchant, each past its expiry, whose close never answers: each try takes the
        // connector's whole timeout (2.5 s here). Worked one after another, oldest first, they held up everything behind them.
        var (wx, _, _) = await hub.NewMerchantAsync();
        var hanging = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var (_, id, _) = await PendingAsync(wx, "wechatpay");
            hub.Sandbox.WeChat.Faults.Inject("close", SandboxFault.TimeoutBefore, 1_000, match: id);
            hanging.Add(id);
        }

        var (ali, _, _) = await hub.NewMerchantAsync();
        var (_, unrelated, _) = await PendingAsync(ali, "alipay");
        try
        {
            for (var i = 0; i < hanging.Count; i++)
            {
                await hub.ExecAsync("UPDATE payments SET expires_at = @at WHERE id = @id", new { at = 1 + i, id = hanging[i] });
            }

            await hub.ExecAsync("UPDATE payments SET expires_at = @at WHERE id = @unrelated", new { at = 1 + hanging.Count, unrelated }); // expired last

            // The background worker expires it within a couple of polls, not after a dozen wallet timeouts.
            await hub.EventuallyAsync(async () => (await ali.GetAsync($"/v1/payments/{unrelated}")).Str("status"), s => s == "expired",
                TimeSpan.FromSeconds(4), "the Alipay payment to expire while WeChat hangs");
            // The hanging ones are not expired behind the wallet's back: their orders could still be paid.
            Assert.Equal(hanging.Count, await hub.CountAsync(
                "SELECT COUNT(*) FROM payments WHERE id IN (" + string.Join(',', hanging.Select(h => $"'{h}'")) + ") AND status = 'pending'"));
        }
        finally
        {
            hub.Sandbox.WeChat.Faults.Clear(); // the hanging payments expire on their next try
        }
    }

    [Fact]
    public async Task A_paid_order_with_a_mismatched_amount_is_alerted_once_and_backed_off()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var (_, id, codeUrl) = await PendingAsync(m, "wechatpay", 1500);
        var no = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, no!)].Total = 1501; // the wallet took another amount than the payment's
        hub.Sandbox.WeChat.Faults.Inject("notify", SandboxFault.DropNotification, 1, match: id);
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(codeUrl)).StatusCode);
        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id = @id", new { id }); // expiry finds it paid: close refused, query says paid

        var workers = hub.Service<Jobs>();
        for (var i = 0; i < 3; i++)
        {
            await workers.RunOnceAsync(default);
        }

        await Task.Delay(500); // several background polls too
        Assert.Single(hub.Logs.Lines, l => l.Level == LogLevel.Critical && l.Message.Contains("Amount mismatch", StringComparison.Ordinal) && l.Message.Contains(id, StringComparison.Ordinal));
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status")); // never paid, never expired: a human decides
        Assert.Equal("amount_mismatch", await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT error_code FROM payment_attempts WHERE payment_id = @id", new { id }), default));
        Assert.True(await hub.CountAsync("SELECT work_failures FROM payments WHERE id = @id", new { id }) >= 1); // backed off, not retried every pass

        // The same row found by the UNKNOWN re-query is backed off as well, with no second alert.
        await hub.ExecAsync("UPDATE payments SET status = 'unknown' WHERE id = @id", new { id }); // as if the create call had gone unanswered
        await hub.ExecAsync("UPDATE payment_attempts SET status = 'unknown', next_check_at = 0 WHERE payment_id = @id", new { id });
        await workers.RunOnceAsync(default);
        await workers.RunOnceAsync(default);
        Assert.Single(hub.Logs.Lines, l => l.Level == LogLevel.Critical && l.Message.Contains("Amount mismatch", StringComparison.Ordinal) && l.Message.Contains(id, StringComparison.Ordinal));
        Assert.True(await hub.CountAsync("SELECT work_failures FROM payment_attempts WHERE payment_id = @id", new { id }) >= 1);
        Assert.Equal("unknown", await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT status FROM payment_attempts WHERE payment_id = @id", new { id }), default));
    }

    [Fact]
    public async Task A_paid_order_in_another_currency_is_alerted_as_a_currency_mismatch()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var (_, id, codeUrl) = await PendingAsync(m, "wechatpay", 1600);
        var no = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, no!)].Currency = "USD"; // same number, another currency
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(codeUrl)).StatusCode);

        await hub.EventuallyAsync(
            () => hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string?>(c, "SELECT error_code FROM payment_attempts WHERE payment_id = @id", new { id }), default),
            code => code is not null, what: "the mismatch recorded");
        Assert.Equal("currency_mismatch", await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT error_code FROM payment_attempts WHERE payment_id = @id", new { id }), default));
        var alert = Assert.Single(hub.Logs.Lines, l => l.Level == LogLevel.Critical && l.Message.Contains(id, StringComparison.Ordinal));
        Assert.StartsWith("Currency mismatch", alert.Message, StringComparison.Ordinal);
        Assert.Contains("expected CNY, wallet says USD", alert.Message, StringComparison.Ordinal);
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }
}

[Collection("sqlite")]
public sealed class WorkerFairnessTests_Sqlite(SqliteHub hub) : WorkerFairnessTests(hub);

[Collection("postgres")]
public sealed class WorkerFairnessTests_Postgres(PostgresHub hub) : WorkerFairnessTests(hub);
