const { createShop } = require('./lib/shop');
const config = require('./config');

App({
  shop: null,
  onLaunch() {
    this.shop = createShop(config);
  },
});
