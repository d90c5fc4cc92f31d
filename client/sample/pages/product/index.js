const { shop, yuan, run } = require('../../util');

/** The picker's rows: each value, whether it is picked, and whether some combination in
 * stock has it beside the values picked in the other rows. */
function rows(table, picked) {
  return table.attributes.map((a, ai) => ({
    name: a.name,
    values: a.values.map((value) => ({
      value,
      picked: picked[ai] === value,
      possible: table.combinations.some(
        (c) => c.in_stock && c.values[ai] === value && c.values.every((v, i) => i === ai || !picked[i] || picked[i] === v),
      ),
    })),
  }));
}

/** The combination every row's pick names, if all are picked. */
function chosen(table, picked) {
  if (picked.length < table.attributes.length || picked.some((v) => !v)) return null;
  const c = table.combinations.find((x) => x.values.every((v, i) => v === picked[i]));
  if (!c) return { label: picked.join(' / '), missing: true, in_stock: false };
  return { sku: c.sku_id, label: c.values.join(' / '), price: yuan(c.price), in_stock: c.in_stock, image: c.image || '' };
}

/** The rating line: average, share of good reviews and how many, or that there are none. */
function summary(r) {
  if (!r.count) return '暂无评价';
  return `${r.average.toFixed(1)}分 · 好评率${r.good_percent}% · ${r.count}条评价`;
}

Component({
  data: { product: null, images: [], skus: [], spec: null, picked: [], chosen: null, rating: '', reviews: [], error: '' },
  methods: {
    onLoad(query) {
      return run(this, async () => {
        const [p, reviews] = await Promise.all([shop().product(query.id), shop().productReviews(query.id)]);
        const images = [p.images.cover].concat(p.images.gallery).filter(Boolean);
        const skus = p.skus
          .filter((s) => s.kind !== 'gift')
          .map((s) => ({ id: s.id, name: s.name, price: yuan(s.price), available: s.available, purchasable: s.purchasable }));
        this.table = p.spec_table;
        this.setData({
          product: { id: p.id, title: p.title, description: p.description || '', detail: p.images.detail },
          images,
          // A product picked by attributes shows the picker instead of the list of SKUs.
          skus: this.table ? [] : skus,
          spec: this.table ? rows(this.table, []) : null,
          picked: [],
          chosen: null,
          rating: summary(p.rating),
          reviews: reviews.items.map((r) => ({
            author: r.author,
            stars: '★'.repeat(r.stars) + '☆'.repeat(5 - r.stars),
            text: r.text,
            images: r.images,
            reply: r.reply ? r.reply.text : '',
          })),
        });
      });
    },
    pick(e) {
      const { attr, value } = e.currentTarget.dataset;
      const picked = this.data.picked.slice();
      picked[attr] = picked[attr] === value ? undefined : value;
      this.setData({ picked, spec: rows(this.table, picked), chosen: chosen(this.table, picked) });
    },
    addPicked() {
      const c = this.data.chosen;
      if (!c || !c.in_stock) return undefined;
      return this.add(c.sku);
    },
    addToCart(e) {
      return this.add(e.currentTarget.dataset.sku);
    },
    add(sku) {
      return run(this, async () => {
        const cart = await shop().cart();
        const line = cart.lines.find((l) => l.sku_id === sku);
        await shop().setCartLine(sku, (line ? line.quantity : 0) + 1);
        wx.showToast({ title: '已加入购物车' });
      });
    },
  },
});
