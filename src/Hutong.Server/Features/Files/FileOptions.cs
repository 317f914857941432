namespace Hutong.Server.Features.Files;

/// <summary>Uploaded files (Hutong:Files).</summary>
public sealed class FileOptions
{
    /// <summary>
    /// The most bytes one merchant may upload in any 24 hours (default 256 MiB: 128 images of the 2 MiB maximum, or
    /// thousands of usual photos). Files are kept in the store, so without a bound one API key could fill the hub's disk
    /// for every merchant (measured on the demo hub: 262 MiB in 15 s from one key). Beyond it: 422 file_quota_exceeded,
    /// nothing stored. Checked at upload; concurrent uploads may pass it by at most their own size.
    /// </summary>
    public long DailyBytesPerMerchant { get; set; } = 256L * 1024 * 1024;
}
