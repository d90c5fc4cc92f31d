//! Place-order's decision, as one pure function: from what was read (the catalog entries the
//! request names, the stock they draw on, the coupon chosen) to the order and everything it
//! holds. The application reads, calls [`plan`], and writes the order's holds in one
//! transaction (`store::repo::holds`).

use std::collections::{BTreeMap, HashMap};

use crate::DomainError;
use crate::address::Address;
use crate::catalog::{Product, Sku, StockLevel};
use crate::coupon::UserCoupon;
use crate::freight::{FreightTemplate, Waiver};
use crate::ids::{OpenId, OrderNo, ProductId, RequestId, SkuId};
use crate::order::{Hold, NewOrder, Order, OrderLine, allocate, demand};
use crate::pricing::{Offers, gift_line, gifts, line, price};
use crate::promotion::Promotions;

/// The catalog as place-order read it. A SKU the request names but that is missing here does
/// not exist.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub skus: HashMap<SkuId, Sku>,
    pub products: HashMap<ProductId, Product>,
    /// Each ordered product's gift SKUs.
    pub gifts: HashMap<ProductId, Vec<Sku>>,
}

impl Catalog {
    /// The stock-bearing SKUs an order of `items` may draw on: what it orders (bundles by
    /// their components) and the gifts that come with it.
    pub fn stock_skus(&self, items: &[(SkuId, i64)]) -> Vec<SkuId> {
        let mut out = Vec::new();
        for (id, _) in items {
            if let Some(s) = self.skus.get(id) {
                if s.components.is_empty() {
                    out.push(s.id.clone());
                } else {
                    out.extend(s.components.iter().map(|c| c.sku_id.clone()));
                }
                if let Some(g) = self.gifts.get(&s.product_id) {
                    out.extend(g.iter().map(|g| g.id.clone()));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The priced lines of `items`, and the gifts they bring.
    pub fn lines(&self, items: &[(SkuId, i64)]) -> Result<(Vec<OrderLine>, Vec<OrderLine>), DomainError> {
        let mut lines = Vec::new();
        for (sku_id, qty) in items {
            let unavailable =
                || DomainError::SkuUnavailable { sku: sku_id.clone(), reason: format!("SKU {sku_id} is not for sale") };
            let sku = self.skus.get(sku_id).ok_or_else(unavailable)?;
            let product = self.products.get(&sku.product_id).ok_or_else(unavailable)?;
            lines.push(line(sku, product, *qty)?);
        }
        let gifts = gifts(&lines, |p| self.gifts.get(p).map(Vec::as_slice).unwrap_or(&[]));
        Ok((lines, gifts))
    }
}

/// What one shopper may hold unpaid at once, so nobody can keep stock from others by
/// ordering and never paying: open unpaid orders, units of one SKU across them, and how often
/// they may place an order or ask to pay one (each `POST /orders/{no}/pay` is a call to WeChat
/// Pay on the merchant's quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub open_orders: i64,
    pub units_per_sku: i64,
    pub places_per_minute: i64,
    pub pays_per_minute: i64,
}

impl Default for Limits {
    fn default() -> Self {
        // One full order of any SKU fits; three orders may wait for payment at once.
        Limits { open_orders: 3, units_per_sku: crate::order::MAX_QUANTITY, places_per_minute: 10, pays_per_minute: 10 }
    }
}

/// Who orders what, when.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub openid: &'a OpenId,
    pub request_id: &'a RequestId,
    /// Merged and bounded (see [`crate::order::normalise_lines`]).
    pub items: &'a [(SkuId, i64)],
    pub order_no: OrderNo,
    pub now: i64,
    /// How long the unpaid order holds its stock.
    pub hold_secs: i64,
    pub limits: Limits,
    /// Where the goods go (checked already).
    pub address: &'a Address,
    pub freight: &'a FreightTemplate,
    /// Member perks that waive freight.
    pub waiver: Waiver,
    /// The member price of the shopper's level, percent off.
    pub member_pct: u8,
    pub promotions: &'a Promotions,
    /// Points the shopper pays with (whole hundreds; 0: none).
    pub points: i64,
}

/// Gifts of the threshold rules the order's goods reach (after discounts, of the listed
/// products when a rule lists any), one of each, if the catalog holds that gift SKU.
fn threshold_gifts(
    lines: &[OrderLine],
    paid: &[i64],
    catalog: &Catalog,
    promotions: &Promotions,
    now: i64,
) -> Vec<OrderLine> {
    let mut out = Vec::new();
    for g in promotions.gifts.iter().filter(|g| g.active_at(now)) {
        let reached: i64 = lines
            .iter()
            .zip(paid)
            .filter(|(l, _)| g.products.is_empty() || g.products.iter().any(|p| p == l.product_id.as_str()))
            .map(|(_, paid)| paid)
            .sum();
        let Some(sku) = SkuId::parse(&g.gift_sku)
            .ok()
            .and_then(|id| catalog.skus.get(&id))
            .filter(|s| s.kind == crate::catalog::SkuKind::Gift)
        else {
            continue;
        };
        if reached >= g.min_fen && !out.iter().any(|l: &OrderLine| l.sku_id == sku.id) {
            out.push(gift_line(sku, format!("{}（{}）", sku.name, g.name)));
        }
    }
    out
}

/// Decides an order: prices the lines, applies the coupon, allocates stock over warehouses
/// (gifts while they last), and lists what the order holds: its stock and gifts, its coupon,
/// its points, and its places under the shopper's limits.
pub fn plan(
    req: &Request<'_>,
    catalog: &Catalog,
    stock: &HashMap<SkuId, Vec<StockLevel>>,
    coupon: Option<&UserCoupon>,
) -> Result<Order, DomainError> {
    let (lines, mut gift_lines) = catalog.lines(req.items)?;
    if let Some(l) = lines.iter().find(|l| l.quantity > req.limits.units_per_sku) {
        return Err(DomainError::HoldingLimit { sku: l.sku_id.clone(), units: req.limits.units_per_sku });
    }
    if let Some(c) = coupon
        && !c.usable_at(req.now)
    {
        return Err(DomainError::CouponUnavailable);
    }
    let category_of =
        |product_id: &ProductId| catalog.products.get(product_id).map(|p| p.category.clone()).unwrap_or_default();
    let offers = Offers {
        coupon: coupon.map(|c| (&c.rule, c.scope.as_ref())),
        campaign: req.promotions.full_reduction.as_ref(),
        stacking: req.promotions.stacking,
        member_pct: req.member_pct,
        points: req.points,
    };
    let goods = price(&lines, &category_of, offers, req.now)?;
    let paid: Vec<i64> = goods.line_amounts.iter().zip(goods.line_discounts()).map(|(a, d)| a - d.fen()).collect();
    for g in threshold_gifts(&lines, &paid, catalog, req.promotions, req.now) {
        // One of each gift SKU, whichever rule brings it.
        if !gift_lines.iter().any(|l| l.sku_id == g.sku_id) {
            gift_lines.push(g);
        }
    }
    let freight = req.freight.freight(goods.payable, &req.address.province, req.waiver);
    let priced = goods.with_freight(freight)?;
    // The order number ends in random digits: concurrent orders spread over a SKU's shards.
    let spread = req.order_no.as_str().bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let take = allocate(&demand(&lines), stock, spread).map_err(|sku| DomainError::OutOfStock { sku })?;
    let mut holds: Vec<Hold> = take.into_iter().map(Hold::Stock).collect();
    gift_lines.retain(|g| match allocate(&BTreeMap::from([(g.sku_id.clone(), 1)]), stock, spread) {
        Ok(r) => {
            holds.extend(r.into_iter().map(Hold::Gift));
            true
        }
        Err(_) => false,
    });
    if let Some(c) = coupon {
        holds.push(Hold::Coupon { coupon_id: c.coupon_id.clone(), template_id: c.template_id.clone() });
    }
    if req.points > 0 {
        holds.push(Hold::Points { points: req.points });
    }
    holds.push(Hold::OpenOrder);
    holds.extend(lines.iter().map(|l| Hold::HeldUnits { sku_id: l.sku_id.clone(), units: l.quantity }));
    Ok(Order::placed(NewOrder {
        order_no: req.order_no.clone(),
        openid: req.openid.clone(),
        request_id: req.request_id.clone(),
        lines,
        gifts: gift_lines,
        priced,
        holds,
        address: req.address.clone(),
        now: req.now,
        expires_at: req.now + req.hold_secs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Component, ProductStatus, SkuKind};
    use crate::coupon::{CouponRule, CouponState};
    use crate::ids::id;
    use crate::money::Fen;

    fn sku(sku_id: &str, product: &str, kind: SkuKind, price: i64, components: &[(&str, u32)]) -> Sku {
        Sku {
            id: id(sku_id),
            product_id: id(product),
            name: sku_id.into(),
            kind,
            price: Fen::new(price),
            components: components.iter().map(|(s, q)| Component { sku_id: id(s), quantity: *q }).collect(),
            daily_sales: 0,
            replenish_days: 0,
            spec: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn product(product_id: &str, status: ProductStatus) -> Product {
        Product {
            id: id(product_id),
            title: format!("P{product_id}"),
            subtitle: String::new(),
            description: String::new(),
            category: "c".into(),
            status,
            price_from: None,
            version: 1,
            created_at: 0,
            updated_at: 0,
            media: Default::default(),
            checks: Default::default(),
            specs: vec![],
            tags: vec![],
        }
    }

    fn level(wh: &str, n: i64) -> StockLevel {
        StockLevel { warehouse_id: id(wh), shard: 0, available: n }
    }

    fn shop() -> Catalog {
        let mut c = Catalog::default();
        for s in [
            sku("A", "P1", SkuKind::Main, 1000, &[]),
            sku("B", "P2", SkuKind::Main, 500, &[]),
            sku("AB", "P2", SkuKind::Bundle, 1300, &[("A", 1), ("B", 2)]),
            sku("G", "P1", SkuKind::Gift, 0, &[]),
        ] {
            c.skus.insert(s.id.clone(), s);
        }
        c.products.insert(id("P1"), product("P1", ProductStatus::OnSale));
        c.products.insert(id("P2"), product("P2", ProductStatus::OnSale));
        c.gifts.insert(id("P1"), vec![sku("G", "P1", SkuKind::Gift, 0, &[])]);
        c
    }

    fn req<'a>(items: &'a [(SkuId, i64)]) -> Request<'a> {
        // Leaked: a test's ids live as long as the test process.
        let openid: &'a OpenId = Box::leak(Box::new(id("o00001")));
        let request_id: &'a RequestId = Box::leak(Box::new(id("req00001")));
        let address: &'a Address = Box::leak(Box::new(crate::address::sample()));
        let freight: &'a FreightTemplate = Box::leak(Box::new(FreightTemplate::default()));
        let promotions: &'a Promotions = Box::leak(Box::new(Promotions::default()));
        Request {
            openid,
            request_id,
            items,
            order_no: id("N00001"),
            now: 100,
            hold_secs: 1800,
            limits: Limits::default(),
            address,
            freight,
            waiver: Waiver::default(),
            member_pct: 0,
            promotions,
            points: 0,
        }
    }

    #[test]
    fn prices_allocates_and_brings_gifts() {
        let items = vec![(id("A"), 2), (id("AB"), 1)];
        let stock = HashMap::from([
            (id("A"), vec![level("SH", 5)]),
            (id("B"), vec![level("SH", 5)]),
            (id("G"), vec![level("SH", 1)]),
        ]);
        let c = shop();
        assert_eq!(c.stock_skus(&items), vec![id::<SkuId>("A"), id("B"), id("G")]);
        let o = plan(&req(&items), &c, &stock, None).unwrap();
        assert_eq!(o.subtotal(), Fen::new(2 * 1000 + 1300));
        assert_eq!(o.freight(), Fen::new(800), "below 88 yuan: the flat freight");
        assert_eq!(o.payable(), Fen::new(3300 + 800));
        assert_eq!(o.goods_paid(), o.subtotal());
        assert_eq!(o.address().map(|a| a.city.as_str()), Some("广州市"));
        assert_eq!(o.expires_at(), 1900);
        let many = vec![(id("A"), 9)];
        let free = plan(&req(&many), &c, &HashMap::from([(id("A"), vec![level("SH", 9)])]), None).unwrap();
        assert_eq!((free.freight(), free.payable()), (Fen::ZERO, Fen::new(9000)), "free from 88 yuan");
        // Bundles take their components: 2 A + 1 A, 2 B.
        let took = |s: &str| {
            o.holds()
                .iter()
                .filter_map(|h| if let Hold::Stock(r) = h { Some(r) } else { None })
                .filter(|r| r.sku_id == s)
                .map(|r| r.quantity)
                .sum::<i64>()
        };
        assert_eq!((took("A"), took("B")), (3, 2));
        assert_eq!(o.holds().iter().filter(|h| matches!(h, Hold::Gift(_))).count(), 1);
        assert_eq!(o.gifts().len(), 1);
        // Its places under the shopper's limits: the order, and the units of each line.
        assert!(o.holds().contains(&Hold::OpenOrder));
        assert!(o.holds().contains(&Hold::HeldUnits { sku_id: id("A"), units: 2 }));
        assert!(o.holds().contains(&Hold::HeldUnits { sku_id: id("AB"), units: 1 }));
    }

    #[test]
    fn gifts_out_of_stock_are_left_out_not_refused() {
        let items = vec![(id("A"), 1)];
        let stock = HashMap::from([(id("A"), vec![level("SH", 1)])]);
        let o = plan(&req(&items), &shop(), &stock, None).unwrap();
        assert!(o.gifts().is_empty() && !o.holds().iter().any(|h| matches!(h, Hold::Gift(_))));
    }

    #[test]
    fn refusals_are_named() {
        let stock = HashMap::from([(id("A"), vec![level("SH", 1)])]);
        let c = shop();
        let two = vec![(id("A"), 2)];
        assert_eq!(plan(&req(&two), &c, &stock, None).unwrap_err(), DomainError::OutOfStock { sku: id("A") });
        let ghost = vec![(id("Z"), 1)];
        assert!(matches!(plan(&req(&ghost), &c, &stock, None), Err(DomainError::SkuUnavailable { .. })));
        let gift = vec![(id("G"), 1)];
        assert!(matches!(plan(&req(&gift), &c, &stock, None), Err(DomainError::SkuUnavailable { .. })));
        let mut off = shop();
        off.products.insert(id("P1"), product("P1", ProductStatus::OffSale));
        let one = vec![(id("A"), 1)];
        assert!(matches!(plan(&req(&one), &off, &stock, None), Err(DomainError::SkuUnavailable { .. })));
        let used = UserCoupon {
            coupon_id: id("U1"),
            template_id: id("T1"),
            openid: id("o00001"),
            name: "c".into(),
            rule: CouponRule::NoThreshold { amount_off: Fen::new(100) },
            state: CouponState::Used,
            valid_from: 0,
            valid_to: 1000,
            order_no: None,
            claimed_at: 0,
            scope: None,
        };
        assert_eq!(plan(&req(&one), &c, &stock, Some(&used)).unwrap_err(), DomainError::CouponUnavailable);
        let fresh = UserCoupon { state: CouponState::Available, ..used };
        let o = plan(&req(&one), &c, &stock, Some(&fresh)).unwrap();
        // The coupon takes off the goods only; freight is added after it.
        assert_eq!(
            (o.off(crate::pricing::Source::Coupon), o.freight(), o.payable()),
            (Fen::new(100), Fen::new(800), Fen::new(1700))
        );
        assert_eq!(o.coupon().map(|(c, _)| c.as_str()), Some("U1"));
    }
}
