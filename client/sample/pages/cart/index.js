const { shop, yuan, run } = require('../../util');

Component({
  data: { lines: [], total: '0.00', empty: true, error: '' },
  methods: {
    onShow() {
      return this.load();
    },
    onLoad() {
      return this.load();
    },
    load() {
      return run(this, async () => {
        const cart = await shop().cart();
        const lines = cart.lines.map((l) => ({ ...l, price: yuan(l.unit_price) }));
        this.setData({ lines, total: yuan(cart.total), empty: lines.length === 0 });
      });
    },
    remove(e) {
      return run(this, async () => {
        await shop().removeCartLine(e.currentTarget.dataset.sku);
        await this.load();
      });
    },
    checkout() {
      wx.navigateTo({ url: '/pages/checkout/index' });
    },
  },
});
