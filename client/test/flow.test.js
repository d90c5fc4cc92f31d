// The sample mini-program's pages, run by miniprogram-simulate (j-component) in Node against
// the running shop and WeChat simulator (tests/tests/miniprogram.rs starts them and passes
// their addresses): log in, browse, add to cart, check out with an address, pay (the
// simulator checks paySign and pays; the notify marks the order paid), see "paid", ask for
// a refund, claim a coupon, see the member page and subscribe.
require('global-jsdom')();
// Node has a CustomEvent of its own, which the page's (jsdom's) elements refuse.
global.CustomEvent = window.CustomEvent;
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const simulate = require('miniprogram-simulate');

const SHOP = process.env.SHOP_BASE;
const SIM = process.env.SIM_BASE;
const APPID = process.env.WECHAT_APPID;
const PRODUCT = process.env.PRODUCT_ID;
const COUPON = process.env.COUPON_TEMPLATE;
const SPECCED = JSON.parse(process.env.SPEC_PRODUCT || 'null');
if (!SHOP || !SIM || !APPID || !PRODUCT || !COUPON || !SPECCED) {
  throw new Error('run by tests/tests/miniprogram.rs, which sets SHOP_BASE, SIM_BASE, WECHAT_APPID, PRODUCT_ID, COUPON_TEMPLATE, SPEC_PRODUCT');
}

const sample = path.join(__dirname, '../sample');
const wx = require('./wx').make({ simBase: SIM, appid: APPID, user: `mp${Date.now().toString(36)}` });
Object.assign(global.wx, wx);
const fake = global.wx;

let app;
global.App = (o) => (app = o);
global.getApp = () => app;
require(path.join(sample, 'config')).baseUrl = SHOP;
require(path.join(sample, 'config')).subscribeTemplates = ['TMPL_ORDER_SHIPPED', 'TMPL_POINTS'];
require(path.join(sample, 'app'));
app.onLaunch();
// Payment confirmation is polled quickly here; the notify comes within a second.
app.shop.config.pollMs = 100;

/** A page of the sample, loaded and attached, after `onLoad(query)` has finished. */
async function page(name, query = {}) {
  // WeChat's own WXML compiler, given the project root as WeChat's tool gives it.
  const id = simulate.load(path.join(sample, `pages/${name}/index`), { rootPath: sample });
  const c = simulate.render(id);
  c.attach(document.createElement('parent-wrapper'));
  await c.instance.onLoad(query);
  return c;
}

function text(c, selector) {
  const el = c.querySelector(selector);
  return el ? el.dom.textContent.trim() : '';
}

async function tap(c, selector, index = 0) {
  const all = c.querySelectorAll(selector);
  assert.ok(all[index], `${selector}[${index}] is on the page: ${c.dom.innerHTML}`);
  all[index].dispatchEvent('tap');
  await simulate.sleep(0);
  await c.instance.pending;
}

test('a shopper logs in, orders, pays, asks for a refund, claims a coupon', async () => {
  const home = await page('home');
  assert.strictEqual(home.data.error, '');
  assert.ok(home.data.products.some((p) => p.id === PRODUCT), 'the product is listed');
  assert.strictEqual(fake.calls.login, 0, 'browsing needs no login');

  const product = await page('product', { id: PRODUCT });
  assert.strictEqual(product.data.error, '');
  assert.ok(product.data.skus.length >= 1);
  await tap(product, '.add');
  assert.strictEqual(product.data.error, '');
  assert.strictEqual(fake.calls.login, 1, 'the first write logged in once');
  await tap(product, '.add');

  const cart = await page('cart');
  assert.strictEqual(cart.data.lines.length, 1);
  assert.strictEqual(cart.data.lines[0].quantity, 2);
  assert.strictEqual(cart.data.total, '30.00');
  assert.match(text(cart, '.total'), /30\.00/);

  const checkout = await page('checkout');
  assert.strictEqual(checkout.data.address, null, 'no address yet');
  await tap(checkout, '.address');
  assert.strictEqual(checkout.data.error, '');
  assert.strictEqual(checkout.data.address.city, '广州市');
  await tap(checkout, '.pay');
  assert.strictEqual(checkout.data.error, '');
  const to = fake.calls.navigations[fake.calls.navigations.length - 1];
  assert.match(to, /^\/pages\/pay-result\/index\?no=\d+$/);
  const no = to.split('no=')[1];

  const result = await page('pay-result', { no });
  assert.strictEqual(result.data.state, 'paid', 'the notify marked it paid');
  assert.strictEqual(text(result, '.label'), '支付成功');
  assert.strictEqual(result.data.payable, '30.00');
  assert.strictEqual((await app.shop.cart()).lines.length, 0, 'the cart was emptied');

  const orders = await page('orders');
  const mine = orders.data.orders.find((o) => o.no === no);
  assert.ok(mine && mine.state === 'paid' && mine.refundable);

  const refund = await page('refund', { no });
  refund.instance.onReason({ detail: { value: '买多了' } });
  await tap(refund, '.submit');
  assert.strictEqual(refund.data.error, '');
  assert.strictEqual(refund.data.refund.state, 'requested');
  assert.strictEqual(refund.data.refund.amount, '30.00');

  const coupons = await page('coupons', { claim: COUPON });
  assert.strictEqual(coupons.data.error, '');
  assert.strictEqual(coupons.data.claimed, '满100减10');
  assert.deepStrictEqual(coupons.data.coupons.map((c) => c.rule), ['满100.00减10.00']);
  // Claiming again is refused with the server's stable code, shown on the page.
  const again = await page('coupons', { claim: COUPON });
  assert.match(again.data.error, /^[A-Z_]+: /);

  const me = await page('me');
  assert.strictEqual(me.data.error, '');
  assert.strictEqual(me.data.member.level, '普通');
  assert.strictEqual(me.data.member.frozen, 30, 'points of the paid order wait frozen');
  await tap(me, '.subscribe');
  assert.deepStrictEqual(me.data.subscribed, ['TMPL_ORDER_SHIPPED']);

  assert.deepStrictEqual(fake.calls.drift, undefined, 'every answer matched docs/openapi.json');
  assert.ok(fake.calls.validated >= 15, `answers checked against the document: ${fake.calls.validated}`);
});

test('an expired token is renewed silently with wx.login', async () => {
  const before = fake.calls.login;
  app.shop.session.token = 'v1.e30.bm90LWEtc2lnbmF0dXJl';
  const list = await app.shop.orders();
  assert.ok(list.items.length >= 1);
  assert.strictEqual(fake.calls.login, before + 1);
});

test('refusals are typed errors with the stable code', async () => {
  const { ShopError } = require(path.join(sample, 'lib/shop'));
  const p = await app.shop.product(PRODUCT);
  await assert.rejects(
    app.shop.placeOrder({ request_id: `mpx${Date.now()}`, items: [{ sku_id: p.skus[0].id, quantity: 99 }] }),
    (e) => e instanceof ShopError && e.status === 409 && /^[A-Z_]+$/.test(e.code),
  );
  await assert.rejects(app.shop.order('20990101000000000001'), (e) => e instanceof ShopError && e.code === 'NOT_FOUND');
});

test('a forged paySign is refused by WeChat and the order stays unpaid', async () => {
  const p = await app.shop.product(PRODUCT);
  const order = await app.shop.placeOrder({ request_id: `mpy${Date.now()}`, items: [{ sku_id: p.skus[0].id, quantity: 1 }] });
  const params = await app.shop.call('/orders/{no}/pay', 'post', { path: { no: order.order_no } });
  const forged = await new Promise((resolve) =>
    fake.requestPayment({ ...params, paySign: params.paySign.slice(0, -8) + 'AAAAAAA=', success: () => resolve(null), fail: resolve }),
  );
  assert.match(forged.errMsg, /^requestPayment:fail paySign/);
  assert.strictEqual((await app.shop.order(order.order_no)).order.state, 'unpaid');
  const cancelled = await app.shop.cancel(order.order_no);
  assert.strictEqual(cancelled.state, 'closed');
});

test('a product page shows its images and picks a SKU by colour and size', async () => {
  const home = await page('home');
  const card = home.data.products.find((p) => p.id === SPECCED.id);
  assert.ok(card && card.cover.endsWith(SPECCED.images[0]), 'the list shows the cover');
  // j-component renders <image> without its src attribute: the data behind it is checked.
  assert.ok(home.querySelectorAll('.cover').length >= 1, 'as an image on the card');

  // Searching by pinyin finds it (纯棉 → chunmian).
  home.instance.search({ detail: { value: 'lianyiqun' } });
  await home.instance.pending;
  assert.strictEqual(home.data.total, 0, 'no dress in this shop');
  home.instance.search({ detail: { value: 'chunmian' } });
  await home.instance.pending;
  assert.deepStrictEqual(home.data.products.map((p) => p.id), [SPECCED.id]);
  assert.match(text(home, '.found'), /找到 1 件商品/);

  const p = await page('product', { id: SPECCED.id });
  assert.strictEqual(p.data.error, '');
  assert.strictEqual(p.querySelectorAll('.photo').length, 3, 'the cover and the gallery, as images');
  const shown = p.data.images;
  SPECCED.images.forEach((key, i) => assert.ok(shown[i].endsWith(key), `${shown[i]} is ${key}`));
  // The images are served where the product says.
  const served = await fetch(shown[1]);
  assert.strictEqual(await served.text(), 'gallery one');
  assert.strictEqual(p.querySelectorAll('.sku').length, 0, 'a specced product shows the picker, not a SKU list');
  assert.strictEqual(text(p, '.rating'), '暂无评价', 'no review yet: the rating line says so');
  const values = () => p.querySelectorAll('.spec-value');
  assert.deepStrictEqual(values().map((v) => v.dom.textContent.trim()), ['白色', '黑色', 'M', 'L']);
  assert.strictEqual(p.data.chosen, null, 'nothing picked, nothing to add');

  await tap(p, '.spec-value', 1); // 黑色
  const l = values()[3];
  assert.ok(l.dom.className.includes('off'), '黑色 L is sold out: L is greyed once 黑色 is picked');
  await tap(p, '.spec-value', 3); // L
  assert.strictEqual(p.data.chosen.in_stock, false);
  await tap(p, '.spec-value', 0); // 白色
  assert.strictEqual(p.data.chosen.sku, SPECCED.skus['白色 L']);
  assert.strictEqual(p.data.chosen.price, '59.00');
  assert.match(text(p, '.chosen'), /白色 \/ L/);
  await tap(p, '.add-picked');
  assert.strictEqual(p.data.error, '');
  const cart = await page('cart');
  assert.ok(cart.data.lines.some((l) => l.sku_id === SPECCED.skus['白色 L']), 'the picked SKU is in the cart');
});

