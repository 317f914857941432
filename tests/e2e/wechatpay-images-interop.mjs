// An independent WeChat Pay API v3 client (wechatpay-axios-plugin, npm) uploading an evidence image to the Hutong
// sandbox's POST /v3/merchant-service/images/upload (商户上传反馈图片): multipart/form-data with the `meta` JSON part
// {filename, sha256} and the `file` part, built with the plugin's own Multipart and sent with its multipart headers
// (axios then writes both parts by name, without filenames); the plugin signs the request over the meta JSON (its
// lib/decorator.js signs `config.meta ?? config.data`, and Multipart#toJSON is the meta part), so a media_id back means
// the sandbox checked the signature as WeChat does. Then: a meta whose sha256 is not the file's
// (400 PARAM_ERROR), and a request signed over other meta than it sends (401 SIGN_ERROR).
// Input: environment (see DisputeEvidenceTests; WX_IMAGE_B64 is the image); output: one JSON object on stdout.
import { createHash } from 'node:crypto';
import { Wechatpay, Multipart } from 'wechatpay-axios-plugin';

const env = process.env;
const wxpay = new Wechatpay({
  mchid: env.WX_MCHID,
  serial: env.WX_SERIAL,
  privateKey: env.WX_PRIVATE_KEY,
  certs: { [env.WX_PUB_KEY_ID]: env.WX_PUB_KEY },
  baseURL: env.WX_BASE_URL,
});

const image = Buffer.from(env.WX_IMAGE_B64, 'base64');
const sha256 = createHash('sha256').update(image).digest('hex');
const upload = wxpay.v3.merchantService.images.upload;

const out = {};
try {
  const form = new Multipart()
    .append('meta', JSON.stringify({ filename: 'evidence.png', sha256 }))
    .append('file', image, 'evidence.png');
  const done = await upload.post(form, { headers: form.getHeaders() });
  out.status = done.status;
  out.media_id = done.data.media_id;

  try {
    const wrong = new Multipart()
      .append('meta', JSON.stringify({ filename: 'evidence.png', sha256: createHash('sha256').update('other').digest('hex') }))
      .append('file', image, 'evidence.png');
    await upload.post(wrong, { headers: wrong.getHeaders() });
    out.bad_sha_status = 200;
  } catch (e) {
    out.bad_sha_status = e.response?.status;
    out.bad_sha_code = e.response?.data?.code;
  }

  try {
    const sent = new Multipart()
      .append('meta', JSON.stringify({ filename: 'evidence.png', sha256 }))
      .append('file', image, 'evidence.png');
    await upload.post(sent, { meta: { filename: 'signed-but-not-sent.png', sha256 }, headers: sent.getHeaders() });
    out.bad_sign_status = 200;
  } catch (e) {
    out.bad_sign_status = e.response?.status;
    out.bad_sign_code = e.response?.data?.code;
  }
} catch (e) {
  out.error = e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : String(e);
}
console.log(JSON.stringify(out));
