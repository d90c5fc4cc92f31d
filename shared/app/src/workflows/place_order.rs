//! Placing an order: the ordering context decides and writes it, with the delivery address
//! the shopper's book gives (users) and the perks their level gives (members).
//!
//! Store round trips, in order: one batch read of everything known from the request (its
//! request-id marker, the address book, the member, the ordered and gift SKUs, the coupon),
//! the attempt taken from the shopper's allowance, the stock counters of every SKU at once
//! (with, when the process's cache does not hold them, the products and their gift lists),
//! and the one transaction. `docs/benchmarks/round-trips.md` has the counts.

use std::sync::Arc;

use domain::ids::OpenId;
use domain::order::{Order, normalise_lines};
use store::prefetch::Prefetched;
use store::repo;

use crate::ordering::{self, PlaceOrder};
use crate::{App, AppError, catalog, members, users};

/// Places the order `input` asks for: the same request id returns the order it placed the
/// first time; otherwise the attempt counts against the shopper's rate, then the address and
/// the level's perks (free shipping, the member price) are read and the order is placed.
/// Returns the order and whether this call created it.
pub async fn place_order(app: &App, openid: &OpenId, input: PlaceOrder) -> Result<(Order, bool), AppError> {
    let items = normalise_lines(&input.items)?;
    let promotions = catalog::promotions(&app.store).await?;
    let mut skus: Vec<_> = items.iter().map(|(sku, _)| sku.clone()).collect();
    skus.extend(ordering::threshold_gift_skus(&promotions));
    let ahead = repo::orders::placing_reads(openid, &input.request_id, &skus, input.coupon_id.as_ref());
    let app = &app.with_store(Arc::new(Prefetched::load(app.store.clone(), &ahead).await?));
    if let Some(o) = ordering::placed_by(app, openid, &input.request_id).await? {
        return Ok((o, false));
    }
    // Attempts are rationed per shopper before anything else is read.
    ordering::take_attempt(app, openid).await?;
    let address = users::addresses::delivery_address(
        app,
        openid,
        input.address_id.as_deref(),
        input.address.as_ref(),
        input.wx_address.as_ref(),
    )
    .await?;
    let perks = members::level_of(app, openid).await?.perks;
    ordering::place(app, openid, &input, &items, &address, &perks).await
}
