using System.Security.Cryptography;
using Hutong.Domain;
using Hutong.Domain.Files;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Files;

/// <summary>
/// POST /v1/files: a merchant's evidence image, checked by its bytes (JPG, PNG or BMP, at most 2 MiB — the wallets'
/// limits, <see cref="EvidenceImages"/>) and stored with the answer to its Idempotency-Key in one transaction. It goes to a
/// wallet only when a dispute's answer uses it.
/// </summary>
public sealed class FileService(Db db, FileStore files, IOptions<HubOptions> options, TimeProvider time)
{
    public const string DisputeEvidence = "dispute_evidence";

    public async Task<Outcome<FileDto>> CreateAsync(string merchantId, string? purpose, string? filename, byte[]? content, IdempotencyContext? idem, CancellationToken ct)
    {
        if (idem is null)
        {
            return Failure.Invalid("Idempotency-Key", "POST /v1/files needs an Idempotency-Key header.");
        }

        var errors = new Dictionary<string, string[]>();
        if (purpose != DisputeEvidence)
        {
            errors["purpose"] = ["purpose must be dispute_evidence."];
        }

        if (content is null)
        {
            errors["file"] = ["Send the image as the multipart part named file."];
        }
        else if (EvidenceImages.Refusal(content) is { } refusal)
        {
            errors["file"] = [refusal];
        }

        var name = Path.GetFileName(filename ?? string.Empty);
        if (name.Length is 0 or > 128 || !PlainText.IsPrintable(name))
        {
            errors["filename"] = ["The file part needs a filename of 1-128 characters, without control characters."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        var row = new FileRow
        {
            Id = Ids.New(Ids.File, now),
            MerchantId = merchantId,
            Purpose = DisputeEvidence,
            Filename = name,
            Type = EvidenceImages.Detect(content)!,
            Size = content!.Length,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(content)),
            CreatedAt = now.ToUnixTimeMilliseconds(),
        };
        var created = Outcome.Created(FileDto.Of(row));
        var quota = options.Value.Files.DailyBytesPerMerchant;
        return await db.WriteAsync<Outcome<FileDto>>(async (c, t) =>
        {
            // Files are kept in the store: one merchant's uploads are bounded per day, so no API key can fill the disk.
            if (await files.BytesSinceAsync(c, t, merchantId, now.AddDays(-1)) + row.Size > quota)
            {
                return new Failure(FailureKind.Unprocessable, "file_quota_exceeded", "The merchant's uploads of the last 24 hours are at their limit.",
                    $"At most {quota} bytes of files a merchant may upload in any 24 hours; try again later.", "file");
            }

            await files.InsertAsync(c, t, row, content);
            await idem.CompleteAsync(c, t, created);
            return created;
        }, ct);
    }

    public async Task<Outcome<FileDto>> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await files.GetAsync(merchantId, id, ct) is { } f ? Outcome.Ok(FileDto.Of(f)) : Failure.NotFound("file");
}
