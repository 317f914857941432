namespace Hutong.Server.Http;

/// <summary>
/// Where features map their endpoints: <see cref="Api"/> is the merchant API (/v1: API key, Idempotency-Key),
/// <see cref="Admin"/> the operator API (/admin: admin token, Idempotency-Key), <see cref="App"/> the app itself for
/// pages and callbacks that carry their own credentials (buyers' tokens, wallets' signatures). The composition root
/// builds the groups and their filters; a feature only says what it serves on which.
/// </summary>
public sealed record HubRoutes(IEndpointRouteBuilder App, RouteGroupBuilder Api, RouteGroupBuilder Admin);
