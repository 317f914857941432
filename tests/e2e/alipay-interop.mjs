// Alipay's in-app and app flows with an independent OpenAPI v2 client (alipay-sdk, npm, Alipay's own Node SDK) against
// the Hutong sandbox: the SDK signs every request and verifies every response with its own code. It exchanges an
// auth_base auth_code (alipay.system.oauth.token; the same code again must be refused), creates a trade for that buyer
// (alipay.trade.create, JSAPI_PAY) which the sandbox's AlipayJSBridge endpoint then pays as that buyer, charges a buyer's
// payment code (alipay.trade.pay, bar_code), and builds an alipay.trade.app.pay order string with sdkExecute that the
// sandbox's Alipay app must accept (and refuse once tampered).
// Input: environment (see the C# test AlipaySdkInteropTests); output: one JSON object on stdout.
import { AlipaySdk } from 'alipay-sdk';

const env = process.env;
const sdk = new AlipaySdk({
  appId: env.ALI_APPID,
  privateKey: env.ALI_PRIVATE_KEY.trim(),
  keyType: 'PKCS8',
  alipayPublicKey: env.ALI_PUBLIC_KEY.trim(),
  gateway: env.ALI_SANDBOX + '/gateway.do',
  camelcase: false,
});
const sandbox = async (path, init) => (await fetch(env.ALI_SANDBOX + path, init)).json();
const validateSign = { validateSign: true };
const out = {};
try {
  const token = await sdk.exec('alipay.system.oauth.token', { grant_type: 'authorization_code', code: env.ALI_AUTH_CODE }, validateSign);
  out.open_id = token.open_id;
  // A refusal comes as error_response, which the SDK's response check does not cover: read without validateSign.
  const again = await sdk.exec('alipay.system.oauth.token', { grant_type: 'authorization_code', code: env.ALI_AUTH_CODE });
  out.reused_code = again.sub_code;

  const created = await sdk.exec('alipay.trade.create', {
    notify_url: 'https://example.com/notify',
    bizContent: { out_trade_no: 'create' + Date.now(), total_amount: '0.01', subject: '互通 in-app interop', product_code: 'JSAPI_PAY', buyer_open_id: token.open_id },
  }, validateSign);
  out.create_code = created.code;
  out.trade_no = created.trade_no;
  const paid = await sandbox('/sandbox/alipay/bridge/pay', {
    method: 'POST', headers: { 'content-type': 'text/plain', cookie: env.ALI_USER_COOKIE }, body: JSON.stringify({ tradeNO: created.trade_no }),
  });
  out.trade_pay_result = paid.resultCode;
  const queried = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: created.out_trade_no } }, validateSign);
  out.create_status = queried.trade_status;

  const charged = await sdk.exec('alipay.trade.pay', {
    bizContent: { out_trade_no: 'bar' + Date.now(), scene: 'bar_code', auth_code: env.ALI_BUYER_CODE, subject: '互通 bar code interop', total_amount: '0.02' },
  }, validateSign);
  out.bar_code = charged.code;
  out.bar_total = charged.total_amount;

  const orderString = sdk.sdkExecute('alipay.trade.app.pay', {
    notifyUrl: 'https://example.com/notify',
    bizContent: { out_trade_no: 'app' + Date.now(), total_amount: '0.03', subject: '互通 app pay interop', product_code: 'QUICK_MSECURITY_PAY' },
  });
  out.order_string = orderString;
  const app = (s) => sandbox('/sandbox/alipay/app/pay', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: s });
  out.app_tampered = (await app(orderString.replace(encodeURIComponent('"0.03"'), encodeURIComponent('"0.01"')))).resultStatus;
  out.app_paid = (await app(orderString)).resultStatus;
} catch (e) {
  out.error = `${e.name}: ${e.message}`;
}
console.log(JSON.stringify(out));
