// The shop's client for mini-programs. Compiled by `npm run build` to `sample/lib/shop.js`,
// the plain JavaScript a mini-program loads. Every route and shape comes from
// `api.gen.ts`, which is generated from docs/openapi.json: a route or field the server no
// longer has fails the build here.

import type { components, paths } from './api.gen';

export type Schemas = components['schemas'];
type Method = 'get' | 'post' | 'put' | 'delete';

/** The JSON body of the first success status an operation documents. */
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : unknown;
type AnswerOf<O> = O extends { responses: infer R }
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 201: infer A }
      ? Json<A>
      : R extends { 202: infer A }
        ? Json<A>
        : unknown
  : unknown;
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : undefined;
type PathOf<O> = O extends { parameters: { path: infer P } } ? P : undefined;
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

export interface ShopConfig {
  /** `wx.request` to this base URL (AWS API Gateway, SCF, a test server). */
  baseUrl?: string;
  /** Or `wx.cloud.callContainer` to a WeChat Cloud Hosting service: the platform adds the
   * caller's openid, so no login is needed. */
  cloud?: { env: string; service: string };
  /** How long to wait for the payment notify after `wx.requestPayment` succeeds. */
  payConfirmMs?: number;
  /** Between two looks at the order while waiting. */
  pollMs?: number;
}

/** A refusal with the server's stable code (`OUT_OF_STOCK`, `ADDRESS_REQUIRED`, …), or one of
 * the client's own: `NETWORK`, `LOGIN_FAILED`, `PAY_CANCELLED`, `PAY_FAILED`. */
export class ShopError extends Error {
  constructor(
    public code: string,
    message: string,
    public status = 0,
    public details?: unknown,
  ) {
    super(message);
    this.name = 'ShopError';
  }
}

const SESSION_KEY = 'shop.session';

interface Answer {
  status: number;
  data: unknown;
}

/** `wx.login`'s code. */
function wxLogin(): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (r) => (r.code ? resolve(r.code) : reject(new ShopError('LOGIN_FAILED', 'wx.login gave no code'))),
      fail: (e) => reject(new ShopError('LOGIN_FAILED', e.errMsg)),
    });
  });
}

export class Shop {
  private session: Schemas['Session'] | null = null;
  private loggingIn: Promise<Schemas['Session']> | null = null;

  constructor(private config: ShopConfig) {
    if (!config.baseUrl && !config.cloud) throw new ShopError('CONFIG', 'set baseUrl or cloud');
    const saved = wx.getStorageSync(SESSION_KEY) as Schemas['Session'] | '';
    if (saved && saved.token) this.session = saved;
  }

  /** Logs in with `wx.login` (once at a time, however many calls ask) and keeps the token. */
  login(): Promise<Schemas['Session']> {
    if (!this.loggingIn) {
      this.loggingIn = (async () => {
        const code = await wxLogin();
        const s = await this.call('/login', 'post', { body: { code }, anonymous: true });
        this.session = s;
        wx.setStorageSync(SESSION_KEY, s);
        return s;
      })().finally(() => {
        this.loggingIn = null;
      });
    }
    return this.loggingIn;
  }

  logout(): void {
    this.session = null;
    wx.removeStorageSync(SESSION_KEY);
  }

  // The shopper's calls, one per documented route the sample uses. The catalog needs no
  // login (a logged-in shopper's token still goes along).
  /** Products on sale: all, or those matching `q` (words, pinyin, initials), a page at a time. */
  products(cursor?: string, q?: string) {
    const query: { cursor?: string; q?: string } = {};
    if (cursor) query.cursor = cursor;
    if (q) query.q = q;
    return this.call('/products', 'get', { query, anonymous: true });
  }
  product(id: string) {
    return this.call('/products/{id}', 'get', { path: { id }, anonymous: true });
  }
  /** A product's published reviews (featured first, then newest) and its rating summary. */
  productReviews(id: string, cursor?: string) {
    const query: { cursor?: string; limit: string } = { limit: '3' };
    if (cursor) query.cursor = cursor;
    return this.call('/products/{id}/reviews', 'get', { path: { id }, query, anonymous: true });
  }
  /** Signs a review image's upload: PUT the bytes to `url` with `headers`, then name `key`. */
  signReviewUpload(contentType: Schemas['ReviewUploadInput']['content_type'], size: number) {
    return this.call('/me/uploads', 'post', { body: { content_type: contentType, size } });
  }
  /** The shopper's reviews of their order, with where each check stands. */
  orderReviews(no: string) {
    return this.call('/orders/{no}/reviews', 'get', { path: { no } });
  }
  /** Reviews one product of a received order (once; the same review again answers the first). */
  review(no: string, body: Schemas['ReviewInput']) {
    return this.call('/orders/{no}/reviews', 'post', { path: { no }, body });
  }
  cart() {
    return this.call('/cart', 'get', {});
  }
  setCartLine(sku: string, quantity: number) {
    return this.call('/cart/{sku}', 'put', { path: { sku }, body: { quantity } });
  }
  removeCartLine(sku: string) {
    return this.call('/cart/{sku}', 'delete', { path: { sku } });
  }
  addresses() {
    return this.call('/me/addresses', 'get', {});
  }
  addAddress(address: Schemas['Address']) {
    return this.call('/me/addresses', 'post', { body: { address } });
  }
  placeOrder(input: Schemas['PlaceOrder']) {
    return this.call('/orders', 'post', { body: input });
  }
  orders() {
    return this.call('/orders', 'get', {});
  }
  order(no: string) {
    return this.call('/orders/{no}', 'get', { path: { no } });
  }
  cancel(no: string) {
    return this.call('/orders/{no}/cancel', 'post', { path: { no } });
  }
  requestRefund(no: string, input: Schemas['RefundInput']) {
    return this.call('/orders/{no}/refunds', 'post', { path: { no }, body: input });
  }
  myCoupons() {
    return this.call('/me/coupons', 'get', {});
  }
  claimCoupon(id: string) {
    return this.call('/coupons/{id}/claim', 'post', { path: { id } });
  }
  member() {
    return this.call('/me/member', 'get', {});
  }

  /** Pays an order: the shop's `wx.requestPayment` parameters, the payment in WeChat, then
   * the order until WeChat Pay's notify has marked it paid. The answer is the order as it
   * stands: still `unpaid` when the notify is late (the pay result page says "confirming"). */
  async pay(no: string): Promise<Schemas['OrderDetail']> {
    const params = await this.call('/orders/{no}/pay', 'post', { path: { no } });
    await new Promise<void>((resolve, reject) => {
      wx.requestPayment({
        timeStamp: params.timeStamp,
        nonceStr: params.nonceStr,
        package: params.package,
        signType: params.signType,
        paySign: params.paySign,
        success: () => resolve(),
        fail: (e) =>
          reject(
            /cancel/.test(e.errMsg)
              ? new ShopError('PAY_CANCELLED', 'the shopper closed the payment')
              : new ShopError('PAY_FAILED', e.errMsg),
          ),
      });
    });
    const until = Date.now() + (this.config.payConfirmMs ?? 10_000);
    for (;;) {
      const detail = await this.order(no);
      if (detail.order.state !== 'unpaid' || Date.now() >= until) return detail;
      await new Promise((r) => setTimeout(r, this.config.pollMs ?? 1_000));
    }
  }

  /** Asks the shopper for subscribe-message permissions and tells the shop which were
   * accepted (each is one message it may send). Returns the accepted template ids. */
  async subscribe(tmplIds: string[]): Promise<string[]> {
    const result = await new Promise<Record<string, string>>((resolve, reject) => {
      wx.requestSubscribeMessage({
        tmplIds,
        success: (r) => resolve(r as unknown as Record<string, string>),
        fail: (e) => reject(new ShopError('SUBSCRIBE_FAILED', e.errMsg)),
      });
    });
    const report: Record<string, string> = {};
    for (const id of tmplIds) if (typeof result[id] === 'string') report[id] = result[id];
    const answer = await this.call('/me/subscriptions', 'post', { body: report });
    return answer.accepted;
  }

  /** One call of a documented route: typed by docs/openapi.json, logged in first (unless
   * on Cloud Hosting), and logged in again once when the token has expired. */
  async call<P extends keyof paths, M extends Method>(
    route: P,
    method: M,
    args: { path?: PathOf<Op<P, M>>; query?: Record<string, string>; body?: BodyOf<Op<P, M>>; anonymous?: boolean },
  ): Promise<AnswerOf<Op<P, M>>> {
    const path = String(route).replace(/\{(\w+)\}/g, (_, k: string) =>
      encodeURIComponent(String((args.path as Record<string, unknown> | undefined)?.[k] ?? '')),
    );
    const query = args.query
      ? '?' + Object.entries(args.query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
      : '';
    const needsLogin = !args.anonymous && !this.config.cloud;
    if (needsLogin && (!this.session || this.session.expires_at * 1000 <= Date.now() + 60_000)) await this.login();
    let answer = await this.send(method.toUpperCase(), path + query, args.body);
    if (answer.status === 401 && needsLogin) {
      this.logout();
      await this.login();
      answer = await this.send(method.toUpperCase(), path + query, args.body);
    }
    if (answer.status >= 400) {
      const e = (answer.data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
      throw new ShopError(e?.code ?? 'HTTP_' + answer.status, e?.message ?? 'request failed', answer.status, e?.details);
    }
    return answer.data as AnswerOf<Op<P, M>>;
  }

  private send(method: string, path: string, body: unknown): Promise<Answer> {
    const header: Record<string, string> = { 'content-type': 'application/json' };
    if (this.session && !this.config.cloud) header.authorization = `Bearer ${this.session.token}`;
    const m = method as 'GET' | 'POST' | 'PUT' | 'DELETE';
    return new Promise((resolve, reject) => {
      const done = (r: { statusCode: number; data: unknown }) => resolve({ status: r.statusCode, data: r.data });
      const fail = (e: { errMsg: string }) => reject(new ShopError('NETWORK', e.errMsg));
      const cloud = this.config.cloud;
      if (cloud) {
        wx.cloud.callContainer({
          config: { env: cloud.env },
          path,
          method: m,
          header: { ...header, 'X-WX-SERVICE': cloud.service },
          data: body as WechatMiniprogram.IAnyObject,
          success: done,
          fail,
        });
      } else {
        wx.request({
          url: this.config.baseUrl + path,
          method: m,
          header,
          data: body as WechatMiniprogram.IAnyObject,
          success: done,
          fail,
        });
      }
    });
  }
}

export function createShop(config: ShopConfig): Shop {
  return new Shop(config);
}
