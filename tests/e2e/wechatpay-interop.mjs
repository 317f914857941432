// An independent WeChat Pay API v3 client (wechatpay-axios-plugin, npm) against the Hutong sandbox.
// It signs requests its own way (fields in its own order) and verifies every 2xx response itself,
// so the sandbox is checked against someone else's reading of the protocol, not only our connector's.
// Input: environment (see the C# test SandboxInteropTests); output: one JSON object on stdout.
import { readFileSync } from 'node:fs';
import { Wechatpay, Formatter, Rsa, Aes } from 'wechatpay-axios-plugin';

const env = process.env;
const wxpay = new Wechatpay({
  mchid: env.WX_MCHID,
  serial: env.WX_SERIAL,
  privateKey: env.WX_PRIVATE_KEY,
  certs: { [env.WX_PUB_KEY_ID]: env.WX_PUB_KEY },
  baseURL: env.WX_BASE_URL,
});

const out = {};
const outTradeNo = 'interop' + Date.now();
try {
  const created = await wxpay.v3.pay.transactions.native.post({
    appid: env.WX_APPID, mchid: env.WX_MCHID, description: '互通 interop', out_trade_no: outTradeNo,
    notify_url: 'https://example.com/notify', amount: { total: 1, currency: 'CNY' },
  });
  out.code_url = created.data.code_url;

  const queried = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: env.WX_MCHID }, out_trade_no: outTradeNo });
  out.trade_state = queried.data.trade_state;

  const closed = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close.post({ mchid: env.WX_MCHID }, { out_trade_no: outTradeNo });
  out.close_status = closed.status;

  const after = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: env.WX_MCHID }, out_trade_no: outTradeNo });
  out.trade_state_after_close = after.data.trade_state;

  try {
    await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: env.WX_MCHID }, out_trade_no: 'no-such-order-1' });
  } catch (e) {
    out.missing_status = e.response?.status;
    out.missing_code = e.response?.data?.code;
  }

  // A notification built by the sandbox, checked with the plugin's own helpers.
  const n = JSON.parse(readFileSync(env.WX_NOTIFICATION_FILE, 'utf8'));
  const message = Formatter.response(n.timestamp, n.nonce, n.body);
  out.notification_signature_ok = Rsa.verify(message, n.signature, env.WX_PUB_KEY);
  const resource = JSON.parse(n.body).resource;
  const plain = Aes.AesGcm.decrypt(resource.ciphertext, env.WX_APIV3_KEY, resource.nonce, resource.associated_data);
  out.notification_trade_state = JSON.parse(plain).trade_state;
} catch (e) {
  out.error = e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e);
}
console.log(JSON.stringify(out));
