//! Place-order's decision, as one pure function: from what was read (the catalog entries the
//! request names, the stock they draw on, the coupon chosen) to the order and the counters it
//! takes. The application reads, calls [`plan`], and writes the plan in one transaction.

use std::collections::{BTreeMap, HashMap};

use crate::DomainError;
use crate::address::Address;
use crate::catalog::{Product, Sku, StockLevel};
use crate::coupon::UserCoupon;
use crate::freight::{FreightTemplate, Waiver};
use crate::ids::{OpenId, OrderNo, RequestId};
use crate::order::{Order, OrderLine, OrderState, Reservation, allocate, demand, sub_orders};
use crate::pricing::{Offers, gifts, line, price};
use crate::promotion::Promotions;

/// The catalog as place-order read it. A SKU the request names but that is missing here does
/// not exist.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub skus: HashMap<String, Sku>,
    pub products: HashMap<String, Product>,
    /// Each ordered product's gift SKUs.
    pub gifts: HashMap<String, Vec<Sku>>,
}

impl Catalog {
    /// The stock-bearing SKUs an order of `items` may draw on: what it orders (bundles by
    /// their components) and the gifts that come with it.
    pub fn stock_skus(&self, items: &[(String, i64)]) -> Vec<String> {
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
    pub fn lines(&self, items: &[(String, i64)]) -> Result<(Vec<OrderLine>, Vec<OrderLine>), DomainError> {
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
/// they may place an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub open_orders: i64,
    pub units_per_sku: i64,
    pub places_per_minute: i64,
}

impl Default for Limits {
    fn default() -> Self {
        // One full order of any SKU fits; three orders may wait for payment at once.
        Limits { open_orders: 3, units_per_sku: crate::order::MAX_QUANTITY, places_per_minute: 10 }
    }
}

/// Who orders what, when.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub openid: &'a OpenId,
    pub request_id: &'a RequestId,
    /// Merged and bounded (see [`crate::order::normalise_lines`]).
    pub items: &'a [(String, i64)],
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

/// What to write: the order, the counters it takes (gifts apart, since a gift that ran out
/// meanwhile is dropped rather than failing the order), and the coupon it locks.
#[derive(Debug, Clone)]
pub struct Plan {
    pub order: Order,
    pub take: Vec<Reservation>,
    pub take_gifts: Vec<Reservation>,
    pub coupon: Option<UserCoupon>,
}

/// Gifts of the threshold rules the order's goods reach (after discounts, of the listed
/// products when a rule lists any), one of each, if the catalog holds that gift SKU.
fn threshold_gifts(lines: &[OrderLine], catalog: &Catalog, promotions: &Promotions, now: i64) -> Vec<OrderLine> {
    let mut out = Vec::new();
    for g in promotions.gifts.iter().filter(|g| g.active_at(now)) {
        let reached: i64 = lines
            .iter()
            .filter(|l| g.products.is_empty() || g.products.contains(&l.product_id))
            .map(|l| l.amount.fen() - l.discount.fen())
            .sum();
        let Some(sku) = catalog.skus.get(&g.gift_sku).filter(|s| s.kind == crate::catalog::SkuKind::Gift) else {
            continue;
        };
        if reached >= g.min_fen && !out.iter().any(|l: &OrderLine| l.sku_id == sku.id) {
            out.push(OrderLine {
                sku_id: sku.id.clone(),
                product_id: sku.product_id.clone(),
                name: format!("{}（{}）", sku.name, g.name),
                kind: crate::catalog::SkuKind::Gift,
                unit_price: sku.price,
                quantity: 1,
                amount: sku.price,
                discount: crate::money::Fen::ZERO,
                components: Vec::new(),
            });
        }
    }
    out
}

/// Decides an order: prices the lines, applies the coupon, allocates stock over warehouses
/// (gifts while they last) and splits the order by warehouse.
pub fn plan(
    req: &Request<'_>,
    catalog: &Catalog,
    stock: &HashMap<String, Vec<StockLevel>>,
    coupon: Option<&UserCoupon>,
) -> Result<Plan, DomainError> {
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
        |product_id: &str| catalog.products.get(product_id).map(|p| p.category.clone()).unwrap_or_default();
    let offers = Offers {
        coupon: coupon.map(|c| (&c.rule, c.scope.as_ref())),
        campaign: req.promotions.full_reduction.as_ref(),
        stacking: req.promotions.stacking,
        member_pct: req.member_pct,
    };
    let goods = price(&lines, &category_of, offers, req.now)?.with_points(req.points)?;
    let mut lines = lines;
    for (l, d) in lines.iter_mut().zip(&goods.line_discounts) {
        l.discount = *d;
    }
    for g in threshold_gifts(&lines, catalog, req.promotions, req.now) {
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
    let mut take_gifts = Vec::new();
    gift_lines.retain(|g| match allocate(&BTreeMap::from([(g.sku_id.clone(), 1)]), stock, spread) {
        Ok(r) => {
            take_gifts.extend(r);
            true
        }
        Err(_) => false,
    });
    let mut all = take.clone();
    all.extend(take_gifts.iter().cloned());
    let order = Order {
        order_no: req.order_no.clone(),
        openid: req.openid.clone(),
        state: OrderState::Unpaid,
        lines,
        gifts: gift_lines,
        sub_orders: sub_orders(&all),
        reservations: all,
        subtotal: priced.subtotal,
        discount: priced.discount,
        member_discount: priced.member_discount,
        campaign_discount: priced.campaign_discount,
        points_used: priced.points_used,
        points_value: priced.points_value,
        freight: priced.freight,
        payable: priced.payable,
        address: Some(req.address.clone()),
        fulfilment: Default::default(),
        shipped_at: None,
        delivered_at: None,
        received_at: None,
        received_by: None,
        completed_at: None,
        upload_lease_until: None,
        coupon_id: coupon.map(|c| c.coupon_id.clone()),
        coupon_template: coupon.map(|c| c.template_id.clone()),
        request_id: req.request_id.clone(),
        created_at: req.now,
        expires_at: req.now + req.hold_secs,
        prepay_id: None,
        transaction_id: None,
        paid_at: None,
        closed_at: None,
        refund_reserved: Default::default(),
        refunded: Default::default(),
        returned_units: BTreeMap::new(),
        restocked: Vec::new(),
        paid_after_close: false,
        holds: true,
        version: 1,
    };
    Ok(Plan { order, take, take_gifts, coupon: coupon.cloned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Component, ProductStatus, SkuKind};
    use crate::coupon::{CouponRule, CouponState};
    use crate::ids::id;
    use crate::money::Fen;

    fn sku(id: &str, product: &str, kind: SkuKind, price: i64, components: &[(&str, u32)]) -> Sku {
        Sku {
            id: id.into(),
            product_id: product.into(),
            name: id.into(),
            kind,
            price: Fen::new(price),
            components: components.iter().map(|(s, q)| Component { sku_id: (*s).into(), quantity: *q }).collect(),
            daily_sales: 0,
            replenish_days: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn product(id: &str, status: ProductStatus) -> Product {
        Product {
            id: id.into(),
            title: format!("P{id}"),
            subtitle: String::new(),
            description: String::new(),
            category: "c".into(),
            status,
            price_from: None,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn level(wh: &str, n: i64) -> StockLevel {
        StockLevel { warehouse_id: wh.into(), shard: 0, available: n }
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
        c.products.insert("P1".into(), product("P1", ProductStatus::OnSale));
        c.products.insert("P2".into(), product("P2", ProductStatus::OnSale));
        c.gifts.insert("P1".into(), vec![sku("G", "P1", SkuKind::Gift, 0, &[])]);
        c
    }

    fn req<'a>(items: &'a [(String, i64)]) -> Request<'a> {
        // Leaked: a test's ids live as long as the test process.
        let openid: &'a OpenId = Box::leak(Box::new(id("o00001")));
        let request_id: &'a RequestId = Box::leak(Box::new(id("req00001")));
        let address: &'a Address = Box::leak(Box::new(Address {
            name: "张三".into(),
            phone: "13800138000".into(),
            province: "广东省".into(),
            city: "广州市".into(),
            district: "海珠区".into(),
            detail: "新港中路397号".into(),
            postal_code: None,
        }));
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
        let items = vec![("A".to_string(), 2), ("AB".to_string(), 1)];
        let stock = HashMap::from([
            ("A".to_string(), vec![level("SH", 5)]),
            ("B".to_string(), vec![level("SH", 5)]),
            ("G".to_string(), vec![level("SH", 1)]),
        ]);
        let c = shop();
        assert_eq!(c.stock_skus(&items), vec!["A", "B", "G"]);
        let p = plan(&req(&items), &c, &stock, None).unwrap();
        assert_eq!(p.order.subtotal, Fen::new(2 * 1000 + 1300));
        assert_eq!(p.order.freight, Fen::new(800), "below 88 yuan: the flat freight");
        assert_eq!(p.order.payable, Fen::new(3300 + 800));
        assert_eq!(p.order.goods_paid(), p.order.subtotal);
        assert_eq!(p.order.address.as_ref().map(|a| a.city.as_str()), Some("广州市"));
        assert_eq!(p.order.expires_at, 1900);
        let many = vec![("A".to_string(), 9)];
        let free = plan(&req(&many), &c, &HashMap::from([("A".to_string(), vec![level("SH", 9)])]), None).unwrap();
        assert_eq!((free.order.freight, free.order.payable), (Fen::ZERO, Fen::new(9000)), "free from 88 yuan");
        // Bundles take their components: 2 A + 1 A, 2 B.
        let took = |s: &str| p.take.iter().filter(|r| r.sku_id == s).map(|r| r.quantity).sum::<i64>();
        assert_eq!((took("A"), took("B")), (3, 2));
        assert_eq!(p.take_gifts.len(), 1);
        assert_eq!(p.order.gifts.len(), 1);
    }

    #[test]
    fn gifts_out_of_stock_are_left_out_not_refused() {
        let items = vec![("A".to_string(), 1)];
        let stock = HashMap::from([("A".to_string(), vec![level("SH", 1)])]);
        let p = plan(&req(&items), &shop(), &stock, None).unwrap();
        assert!(p.order.gifts.is_empty() && p.take_gifts.is_empty());
    }

    #[test]
    fn refusals_are_named() {
        let stock = HashMap::from([("A".to_string(), vec![level("SH", 1)])]);
        let c = shop();
        let two = vec![("A".to_string(), 2)];
        assert_eq!(plan(&req(&two), &c, &stock, None).unwrap_err(), DomainError::OutOfStock { sku: "A".into() });
        let ghost = vec![("Z".to_string(), 1)];
        assert!(matches!(plan(&req(&ghost), &c, &stock, None), Err(DomainError::SkuUnavailable { .. })));
        let gift = vec![("G".to_string(), 1)];
        assert!(matches!(plan(&req(&gift), &c, &stock, None), Err(DomainError::SkuUnavailable { .. })));
        let mut off = shop();
        off.products.insert("P1".into(), product("P1", ProductStatus::OffSale));
        let one = vec![("A".to_string(), 1)];
        assert!(matches!(plan(&req(&one), &off, &stock, None), Err(DomainError::SkuUnavailable { .. })));
        let used = UserCoupon {
            coupon_id: id("U1"),
            template_id: "T1".into(),
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
        let p = plan(&req(&one), &c, &stock, Some(&fresh)).unwrap();
        // The coupon takes off the goods only; freight is added after it.
        assert_eq!(
            (p.order.discount, p.order.freight, p.order.payable),
            (Fen::new(100), Fen::new(800), Fen::new(1700))
        );
        assert_eq!(p.order.coupon_id.as_deref(), Some("U1"));
    }
}
