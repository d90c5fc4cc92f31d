const { shop, yuan, run } = require('../../util');

Component({
  data: { product: null, skus: [], error: '' },
  methods: {
    onLoad(query) {
      return run(this, async () => {
        const p = await shop().product(query.id);
        const skus = p.skus
          .filter((s) => s.kind !== 'gift')
          .map((s) => ({ id: s.id, name: s.name, price: yuan(s.price), available: s.available, purchasable: s.purchasable }));
        this.setData({ product: { id: p.id, title: p.title, description: p.description || '' }, skus });
      });
    },
    addToCart(e) {
      const sku = e.currentTarget.dataset.sku;
      return run(this, async () => {
        const cart = await shop().cart();
        const line = cart.lines.find((l) => l.sku_id === sku);
        await shop().setCartLine(sku, (line ? line.quantity : 0) + 1);
        wx.showToast({ title: '已加入购物车' });
      });
    },
  },
});
