//! Placing an order: the ordering context decides and writes it, with the delivery address
//! the shopper's book gives (users) and the perks their level gives (members).

use domain::ids::OpenId;
use domain::order::{Order, normalise_lines};

use crate::ordering::{self, PlaceOrder};
use crate::{App, AppError, members, users};

/// Places the order `input` asks for: the same request id returns the order it placed the
/// first time; otherwise the attempt counts against the shopper's rate, then the address and
/// the level's perks (free shipping, the member price) are read and the order is placed.
/// Returns the order and whether this call created it.
pub async fn place_order(app: &App, openid: &OpenId, input: PlaceOrder) -> Result<(Order, bool), AppError> {
    let items = normalise_lines(&input.items)?;
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
