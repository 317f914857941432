using Hutong.Domain;
using Hutong.Domain.Files;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Files;

/// <summary>/v1/files.</summary>
public static class FileEndpoints
{
    /// <summary>The upload's body at most: one 2 MiB image and the multipart framing around it.</summary>
    public const long MaxBodyBytes = EvidenceImages.MaxBytes + 64 * 1024;

    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/files", async (HttpContext ctx, FileService svc) =>
            {
                if (!ctx.Request.HasFormContentType || ctx.Request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) != true)
                {
                    return ApiResult.Problem(415, "unsupported_media_type", "Send the file as multipart/form-data (parts purpose and file).");
                }

                IFormCollection form;
                try
                {
                    form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
                }
                catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    return ApiResult.Problem(413, "request_too_large", $"The body must be at most {MaxBodyBytes} bytes (one image of at most {EvidenceImages.MaxBytes} bytes).");
                }
                catch (InvalidDataException)
                {
                    return Problems.Invalid("body", "The body is not well-formed multipart/form-data.");
                }

                var file = form.Files.Count == 1 && form.Files[0].Name == "file" ? form.Files[0] : null;
                byte[]? content = null;
                if (file is not null && file.Length <= EvidenceImages.MaxBytes + 1)
                {
                    using var ms = new MemoryStream();
                    await file.CopyToAsync(ms, ctx.RequestAborted);
                    content = ms.ToArray();
                }
                else if (file is not null)
                {
                    content = new byte[EvidenceImages.MaxBytes + 1]; // refused below as too large without reading it
                }

                return await svc.CreateAsync(MerchantContext.Of(ctx).MerchantId, form["purpose"].ToString() is { Length: > 0 } p ? p : null,
                    file?.FileName, content, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes))
            .Accepts<FileUploadForm>("multipart/form-data")
            .Produces<FileDto>(201).ProducesProblem(400).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422)
            .WithSummary("Upload an evidence image (purpose=dispute_evidence; JPG, PNG or BMP by content, at most 2 MiB; at most Files:DailyBytesPerMerchant a day per merchant; Idempotency-Key required).").WithTags("Files");
        v1.MapGet("/files/{id}", (HttpContext ctx, FileService svc, FileId id) =>
                svc.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<FileDto>().ProducesProblem(404).WithSummary("Retrieve an uploaded file's details (not its bytes).").WithTags("Files");
    }
}

/// <summary>The parts of POST /v1/files (for the OpenAPI document): purpose=dispute_evidence and the image as file.</summary>
public sealed record FileUploadForm(string Purpose, IFormFile File);
