using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>
/// The merchant's split receivers (platform, host, agency), each at one wallet. Registered here and only recorded: the
/// hub adds a receiver at the wallet before its first split (<see cref="SplitFollowUpService"/>).
/// </summary>
public sealed class SplitReceiverService(Db db, SplitStore store, WalletRegistry wallets, SecretBox secrets, TimeProvider time)
{
    private static readonly string[] Roles = ["platform", "host", "agency"];

    private const string HostIdPrefix = "host"; // Ids.New("host", …) in HostService

    /// <summary>
    /// The account's shape for its wallet and type, as the wallet will be sent it (WeChat Pay receivers/add type
    /// MERCHANT_ID or PERSONAL_OPENID: WeChatPayProfitSharing.TypeOf; Alipay royalty trans_in_type userId or loginName:
    /// AlipayProfitSharing.AccountType). Null when it fits, or when the wallet or type is wrong (reported on their own).
    /// Checked as sent, not trimmed: a trailing newline is refused, not quietly dropped.
    /// </summary>
    private static string? AccountError(string? wallet, string? type, string a) =>
        (wallet, type) switch
        {
            (WeChatPayName, "merchant") when !WalletAccountIds.IsWeChatMchId(a) =>
                "account of a wechatpay merchant receiver is its WeChat Pay merchant number (mchid): 8 to 32 digits.",
            (WeChatPayName, "personal") when !WalletAccountIds.IsWeChatOpenId(a) =>
                "account of a wechatpay personal receiver is the person's openid under your app: 6 to 128 letters, digits, _ or -.",
            (AlipayName, "merchant" or "personal") when !WalletAccountIds.IsAlipayUserId(a) && !WalletAccountIds.IsAlipayLogonId(a) =>
                "account of an alipay receiver is an Alipay user id (2088 and 12 digits) or its logon id (a mobile number or an e-mail).",
            _ => PlainText.IsToken(a) ? null : "account must not contain whitespace, control, bidirectional or invisible characters.",
        };

    private const string WeChatPayName = Hutong.Connectors.WeChatPay.WeChatPayConnector.Name;

    private const string AlipayName = Hutong.Connectors.Alipay.AlipayConnector.Name;

    public async Task<Outcome<SplitReceiverDto>> CreateReceiverAsync(string merchantId, CreateReceiverRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var enabled = await wallets.WalletsAsync(ct);
        if (r.Wallet is null || !enabled.TryGetValue(r.Wallet, out var connector) || connector is not IProfitSharingConnector)
        {
            errors["wallet"] = [$"wallet must be one that splits payments: {string.Join(", ", enabled.Where(w => w.Value is IProfitSharingConnector).Select(w => w.Key).Order(StringComparer.Ordinal))}."];
        }

        if (r.Role is null || !Roles.Contains(r.Role))
        {
            errors["role"] = ["role is platform, host or agency."];
        }

        if (r.Type is not ("merchant" or "personal"))
        {
            errors["type"] = ["type is merchant (another merchant account) or personal (a person's wallet id)."];
        }

        if (string.IsNullOrWhiteSpace(r.Account) || r.Account.Length > 64)
        {
            errors["account"] = ["account is the receiver's id at the wallet (mchid, openid or Alipay user id), at most 64 characters."];
        }
        else if (AccountError(r.Wallet, r.Type, r.Account) is { } accountError)
        {
            errors["account"] = [accountError];
        }

        if (r.Type == "merchant" && string.IsNullOrWhiteSpace(r.Name))
        {
            errors["name"] = ["name is required for a merchant receiver: its registered full name, as the wallet checks it."];
        }
        else if (r.Name is { Length: > 64 })
        {
            errors["name"] = ["name is at most 64 characters."];
        }
        else if (r.Name is not null && !PlainText.IsPrintable(r.Name))
        {
            errors["name"] = ["name " + PlainText.Refusal];
        }

        // A host receiver may name the merchant's own host (/v1/hosts), checked like any other reference: it is echoed back
        // and ties the receiver to a host's settlement, so neither another merchant's host nor free text may go in.
        if (r.HostId is not null && (r.Role != "host" || !Ids.HasPrefix(r.HostId, HostIdPrefix)))
        {
            errors["host_id"] = ["host_id is the id of one of your hosts (host_...), for a receiver whose role is host."];
        }
        else if (r.HostId is not null && !await store.IsMerchantsHostAsync(merchantId, r.HostId, ct))
        {
            errors["host_id"] = [$"No such host: {r.HostId}."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        var id = SplitStore.NewId(SplitStore.ReceiverPrefix, now);
        var row = await store.InsertReceiverAsync(new SplitReceiverRow
        {
            // A person's real name is personal data: sealed at rest under Hutong:MasterKey (bound to the receiver id), never returned by the API.
            Id = id, MerchantId = merchantId, Wallet = r.Wallet!, Role = r.Role!, Type = r.Type!,
            Account = r.Account!.Trim(), Name = r.Name is null ? null : secrets.SealIfEnabled(r.Name, id), HostId = r.HostId, CreatedAt = now.ToUnixTimeMilliseconds(),
        }, ct);
        var result = Outcome.Created(SplitReceiverDto.Of(row));
        if (idem is not null)
        {
            await db.WriteAsync((c, t) => idem.CompleteAsync(c, t, result), ct);
        }

        return result;
    }

    /// <summary>The merchant's receivers, newest first, a page at a time (limit 1–100, default 10; starting_after a receiver id).</summary>
    public async Task<Outcome<SplitReceiverDto>> GetReceiverAsync(string merchantId, string id, CancellationToken ct) =>
        Ids.HasPrefix(id, SplitStore.ReceiverPrefix) && await store.GetReceiverAsync(merchantId, id, ct) is { } row
            ? Outcome.Ok(SplitReceiverDto.Of(row))
            : Failure.NotFound("split receiver");

    public async Task<Outcome<SplitReceiverList>> ListReceiversAsync(string merchantId, int? limit, string? startingAfter, string? clawback, CancellationToken ct)
    {
        if (clawback is not (null or "outstanding"))
        {
            return Failure.Invalid("clawback", "clawback=outstanding lists the receivers that owe a clawback; leave it out for all.");
        }

        const string CursorIs = "a split receiver id (rcv_...)";
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, SplitStore.ReceiverPrefix, CursorIs);
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        if (startingAfter is { Length: > 64 })
        {
            return Failure.Invalid("starting_after", $"starting_after must be {CursorIs}.");
        }

        var (rows, hasMore) = await store.ReceiversPageAsync(merchantId, take, startingAfter, ct, owingOnly: clawback is not null);
        var data = rows.Select(SplitReceiverDto.Of).ToList();
        return Outcome.Ok(new SplitReceiverList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }
}
