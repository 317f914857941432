// JSAPI with an independent WeChat Pay v3 client (wechatpay-axios-plugin, npm) against the Hutong sandbox: the plugin
// places the jsapi order (its own request signing, its own response verification) and builds the JSAPI paySign with its
// own helpers (Rsa.sign over Formatter.joinedByLineFeed(appId, timeStamp, nonceStr, package), as its README shows for
// getBrandWCPayRequest); the sandbox's WeixinJSBridge endpoint must accept it, and refuse a tampered one. Then an H5 and
// an App order, whose signed answers the plugin verifies itself.
// Input: environment (see the C# test WeChatInAppProtocolTests); output: one JSON object on stdout.
import { Wechatpay, Formatter, Rsa } from 'wechatpay-axios-plugin';

const env = process.env;
const wxpay = new Wechatpay({
  mchid: env.WX_MCHID,
  serial: env.WX_SERIAL,
  privateKey: env.WX_PRIVATE_KEY,
  certs: { [env.WX_PUB_KEY_ID]: env.WX_PUB_KEY },
  baseURL: env.WX_BASE_URL,
});

const out = {};
const bridge = async (params) => {
  const r = await fetch(env.WX_BASE_URL + 'sandbox/wechat/bridge/pay', {
    method: 'POST', headers: { 'content-type': 'text/plain', cookie: env.WX_USER_COOKIE }, body: JSON.stringify(params),
  });
  return (await r.json()).err_msg;
};
try {
  const created = await wxpay.v3.pay.transactions.jsapi.post({
    appid: env.WX_APPID, mchid: env.WX_MCHID, description: '互通 jsapi interop', out_trade_no: 'jsapi' + Date.now(),
    notify_url: 'https://example.com/notify', amount: { total: 1, currency: 'CNY' }, payer: { openid: env.WX_OPENID },
  });
  const prepayId = created.data.prepay_id;
  out.prepay_id = prepayId;
  const params = { appId: env.WX_APPID, timeStamp: `${Formatter.timestamp()}`, nonceStr: Formatter.nonce(), package: `prepay_id=${prepayId}`, signType: 'RSA' };
  params.paySign = Rsa.sign(Formatter.joinedByLineFeed(params.appId, params.timeStamp, params.nonceStr, params.package), env.WX_PRIVATE_KEY);
  out.tampered = await bridge({ ...params, nonceStr: params.nonceStr + 'x' });
  out.paid = await bridge(params);

  // H5 and App orders through the same client: it verifies each signed answer itself (a bad signature would throw).
  const h5 = await wxpay.v3.pay.transactions.h5.post({
    appid: env.WX_APPID, mchid: env.WX_MCHID, description: '互通 h5 interop', out_trade_no: 'h5' + Date.now(),
    notify_url: 'https://example.com/notify', amount: { total: 1, currency: 'CNY' },
    scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } },
  });
  out.h5_url = h5.data.h5_url;
  const app = await wxpay.v3.pay.transactions.app.post({
    appid: env.WX_MOBILE_APPID, mchid: env.WX_MCHID, description: '互通 app interop', out_trade_no: 'app' + Date.now(),
    notify_url: 'https://example.com/notify', amount: { total: 1, currency: 'CNY' },
  });
  out.app_prepay_id = app.data.prepay_id;
} catch (e) {
  out.error = e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e);
}
console.log(JSON.stringify(out));
