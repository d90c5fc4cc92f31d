const { shop, yuan, run } = require('../../util');

Component({
  data: { products: [], next: null, q: '', total: 0, error: '' },
  methods: {
    onLoad() {
      return this.more(true);
    },
    more(first) {
      return run(this, async () => {
        const page = await shop().products(first ? undefined : this.data.next || undefined, this.data.q);
        const items = page.items.map((p) => ({ id: p.id, title: p.title, subtitle: p.subtitle || '', price: yuan(p.price_from), cover: p.cover || '' }));
        this.setData({ products: first ? items : this.data.products.concat(items), next: page.next, total: page.total });
      });
    },
    search(e) {
      this.setData({ q: (e.detail.value || '').trim() });
      return this.more(true);
    },
    onReachBottom() {
      if (this.data.next) return this.more(false);
    },
    open(e) {
      wx.navigateTo({ url: `/pages/product/index?id=${e.currentTarget.dataset.id}` });
    },
  },
});
