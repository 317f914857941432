using Hutong.Server.Http;

namespace Hutong.Server.Features.Payments;

/// <summary>Payments and their attempts at wallets: creation, confirmation, wallets' answers, the merchant API. HubApp composes the hub from these calls.</summary>
public static class PaymentsFeature
{
    public static IServiceCollection AddPayments(this IServiceCollection s)
    {
        s.AddSingleton<PaymentStore>();
        s.AddSingleton<PaymentService>();
        s.AddSingleton<PaymentDtos>();
        s.AddSingleton<PayerPseudonyms>();
        s.AddSingleton<PaymentOutcomes>();
        s.AddSingleton<WalletOrders>();
        s.AddSingleton<PaymentConfirmation>();
        s.AddSingleton<PaymentCodeOrders>();
        s.AddSingleton<PaymentCodeConfirmation>();
        s.AddSingleton<WalletPayers>();
        s.AddSingleton<InAppConfirmation>();
        return s;
    }

    public static HubRoutes MapPayments(this HubRoutes routes)
    {
        PaymentEndpoints.Map(routes.Api);
        WalletPayerEndpoints.Map(routes.Api);
        return routes;
    }
}
