using System.Data.Common;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Files;

/// <summary>A file a merchant uploaded, without its bytes.</summary>
public sealed class FileRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    /// <summary>dispute_evidence (the files.purpose CHECK constraint).</summary>
    public string Purpose { get; set; } = string.Empty;

    public string Filename { get; set; } = string.Empty;

    /// <summary>jpg, png or bmp, read from the bytes.</summary>
    public string Type { get; set; } = string.Empty;

    public long Size { get; set; }

    public string Sha256 { get; set; } = string.Empty;

    public long CreatedAt { get; set; }
}

/// <summary>A file as merchants see it (Stripe-like). Never its bytes.</summary>
public sealed record FileDto(string Id, string Object, string Purpose, string Filename, string Type, long Size, string Sha256, DateTimeOffset CreatedAt)
{
    public static FileDto Of(FileRow r) => new(r.Id, "file", r.Purpose, r.Filename, r.Type, r.Size, r.Sha256, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt));
}

/// <summary>The files and file_wallet_images tables' one writer. Every read names the merchant: another's file is not found.</summary>
public sealed class FileStore(Db db)
{
    private const string Columns = "id, merchant_id, purpose, filename, type, size, sha256, created_at";

    public Task<int> InsertAsync(DbConnection c, DbTransaction t, FileRow r, byte[] content) => c.ExecuteAsync(
        "INSERT INTO files (id, merchant_id, purpose, filename, type, size, sha256, content, created_at) VALUES (@Id, @MerchantId, @Purpose, @Filename, @Type, @Size, @Sha256, @content, @CreatedAt)",
        new { r.Id, r.MerchantId, r.Purpose, r.Filename, r.Type, r.Size, r.Sha256, content, r.CreatedAt }, t);

    /// <summary>
    /// The bytes the merchant uploaded since <paramref name="since"/>: ids are UUIDv7, so the ids from then on are those at or
    /// above <c>file_</c> and the time's 12 hex digits — a range of ix_files_merchant, never reading the contents.
    /// </summary>
    public Task<long> BytesSinceAsync(DbConnection c, DbTransaction t, string merchantId, DateTimeOffset since) => c.ExecuteScalarAsync<long>(
        "SELECT COALESCE(SUM(size), 0) FROM files WHERE merchant_id = @merchantId AND id >= @floor",
        new { merchantId, floor = $"{Hutong.Domain.Ids.File}_{since.ToUnixTimeMilliseconds():x12}" }, t);

    public Task<FileRow?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<FileRow?>($"SELECT {Columns} FROM files WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    /// <summary>The file's bytes, only for its merchant.</summary>
    public Task<byte[]?> ContentAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<byte[]?>("SELECT content FROM files WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    /// <summary>The id the wallet account (<paramref name="channel"/>) issued for the file, if it was uploaded there since <paramref name="since"/> (unix ms).</summary>
    public Task<string?> WalletImageAsync(string fileId, string channel, long since, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT wallet_image_id FROM file_wallet_images WHERE file_id = @fileId AND channel = @channel AND uploaded_at >= @since", new { fileId, channel, since }), ct);

    /// <summary>Remembers (or replaces, after a stale one) the id the wallet account issued for the file.</summary>
    public Task<int> SaveWalletImageAsync(string fileId, string channel, string walletImageId, long now, CancellationToken ct) =>
        db.WriteAsync((c, t) => c.ExecuteAsync(
            """
            INSERT INTO file_wallet_images (file_id, channel, wallet_image_id, uploaded_at) VALUES (@fileId, @channel, @walletImageId, @now)
            ON CONFLICT (file_id, channel) DO UPDATE SET wallet_image_id = excluded.wallet_image_id, uploaded_at = excluded.uploaded_at
            """, new { fileId, channel, walletImageId, now }, t), ct);
}
