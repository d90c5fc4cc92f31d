//! The price of an order, all of it: what a line costs, which gifts come with it, what a
//! coupon takes off, the 1-fen floor WeChat Pay needs and the single-payment limit. Orders,
//! the cart and refunds by line all price through here.

use std::collections::BTreeSet;

use crate::DomainError;
use crate::catalog::{Product, ProductStatus, Sku, SkuKind};
use crate::coupon::{CouponRule, discount};
use crate::money::{Fen, SINGLE_PAYMENT_LIMIT};
use crate::order::OrderLine;

/// A line as the shopper orders it: `quantity` of `sku`, sold as part of `product`. Refused
/// when the product is not on sale or the SKU is a gift.
pub fn line(sku: &Sku, product: &Product, quantity: i64) -> Result<OrderLine, DomainError> {
    if product.status != ProductStatus::OnSale {
        return Err(DomainError::SkuUnavailable {
            sku: sku.id.clone(),
            reason: format!("{} is not on sale", product.title),
        });
    }
    if sku.kind == SkuKind::Gift {
        return Err(DomainError::SkuUnavailable {
            sku: sku.id.clone(),
            reason: format!("{} is a gift and cannot be bought", sku.name),
        });
    }
    Ok(OrderLine {
        sku_id: sku.id.clone(),
        product_id: sku.product_id.clone(),
        name: format!("{} {}", product.title, sku.name),
        kind: sku.kind,
        unit_price: sku.price,
        quantity,
        amount: line_amount(sku.price, quantity)?,
        components: sku.components.iter().map(|c| (c.sku_id.clone(), i64::from(c.quantity))).collect(),
    })
}

/// Unit price times quantity.
pub fn line_amount(unit_price: Fen, quantity: i64) -> Result<Fen, DomainError> {
    unit_price.checked_mul(quantity).ok_or(DomainError::Overflow)
}

/// The gift rule: each product ordered brings one of each of its gift SKUs (while gift stock
/// lasts, which allocation decides). `gifts_of` gives a product's gift SKUs.
pub fn gifts<'a>(lines: &[OrderLine], gifts_of: impl Fn(&str) -> &'a [Sku]) -> Vec<OrderLine> {
    let products: BTreeSet<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
    let mut out = Vec::new();
    for p in products {
        for g in gifts_of(p).iter().filter(|s| s.kind == SkuKind::Gift) {
            out.push(OrderLine {
                sku_id: g.id.clone(),
                product_id: p.to_owned(),
                name: g.name.clone(),
                kind: SkuKind::Gift,
                unit_price: g.price,
                quantity: 1,
                amount: g.price,
                components: Vec::new(),
            });
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    pub subtotal: Fen,
    pub discount: Fen,
    /// Delivery (zero until [`Priced::with_freight`]); never discounted.
    pub freight: Fen,
    pub payable: Fen,
}

impl Priced {
    /// Adds delivery to what is payable, within the single-payment limit.
    pub fn with_freight(self, freight: Fen) -> Result<Priced, DomainError> {
        let payable = self.payable.checked_add(freight).ok_or(DomainError::Overflow)?;
        if payable > SINGLE_PAYMENT_LIMIT {
            return Err(DomainError::OrderLimitExceeded { limit: SINGLE_PAYMENT_LIMIT });
        }
        Ok(Priced { freight, payable, ..self })
    }
}

/// Server-side pricing of the goods: the lines' amounts, then the coupon, then the limits.
/// Freight comes after ([`Priced::with_freight`]): a coupon never touches it.
pub fn price(lines: &[OrderLine], coupon: Option<&CouponRule>) -> Result<Priced, DomainError> {
    let mut subtotal = Fen::ZERO;
    for l in lines {
        subtotal = subtotal.checked_add(l.amount).ok_or(DomainError::Overflow)?;
    }
    let discount = match coupon {
        Some(rule) => {
            let d = discount(rule, subtotal).ok_or(DomainError::CouponNotApplicable)?;
            // WeChat Pay takes no zero-fen payment: at least 1 fen is always paid.
            Fen::new(d.fen().min(subtotal.fen() - 1).max(0))
        }
        None => Fen::ZERO,
    };
    let payable = subtotal.checked_sub(discount).ok_or(DomainError::Overflow)?;
    if payable > SINGLE_PAYMENT_LIMIT {
        return Err(DomainError::OrderLimitExceeded { limit: SINGLE_PAYMENT_LIMIT });
    }
    Ok(Priced { subtotal, discount, freight: Fen::ZERO, payable })
}
