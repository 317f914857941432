// alipay-sdk (npm, Alipay's Node SDK) uploads a complaint evidence image to the Hutong sandbox with
// alipay.merchant.image.upload: its own multipart request (AlipayFormData; the SDK signs the text fields and the common
// parameters, not the file — dist/commonjs/alipay.js #multipartExec) and its own check of the answer's RSA2 signature.
// Then an image_type Alipay does not take (gif), which must come back as 40002 isv.invalid-file-extension.
// Input: environment (see DisputeEvidenceTests; ALI_IMAGE_B64 is a PNG); output: one JSON object on stdout.
import { AlipaySdk, AlipayFormData } from 'alipay-sdk';

const env = process.env;
const sdk = new AlipaySdk({
  appId: env.ALI_APPID,
  privateKey: env.ALI_PRIVATE_KEY.trim(),
  keyType: 'PKCS8',
  alipayPublicKey: env.ALI_PUBLIC_KEY.trim(),
  gateway: env.ALI_SANDBOX + '/gateway.do',
  camelcase: false,
});
const image = Buffer.from(env.ALI_IMAGE_B64, 'base64');
const upload = (type) => {
  const form = new AlipayFormData();
  form.addField('image_type', type);
  form.addFile('image_content', 'evidence.png', image);
  return sdk.exec('alipay.merchant.image.upload', {}, { formData: form, validateSign: true });
};
const out = {};
try {
  const ok = await upload('png');
  out.code = ok.code;
  out.image_id = ok.image_id ?? null;
  const refused = await upload('gif');
  out.refused = { code: refused.code, sub_code: refused.sub_code ?? null };
} catch (e) {
  out.error = `${e.name}: ${e.message}`;
}
console.log(JSON.stringify(out));
