//! The key schema: every entity's partition and sort key, built in this one place.
//! `docs/storage.md` tells the same in a table, with the access pattern each key serves.

use super::Key;

pub const USER_PROFILE: &str = "PROFILE";
pub const META: &str = "META";
pub const STOCK_PREFIX: &str = "STOCK#";
pub const WAREHOUSES: &str = "WAREHOUSES";

pub fn user(openid: &str) -> Key {
    Key::new(format!("USER#{openid}"), USER_PROFILE)
}

/// The session_key of a user's last login: server-side only, apart from the profile so that
/// no profile read ever carries it.
pub fn user_session(openid: &str) -> Key {
    Key::new(format!("USER#{openid}"), "SESSION")
}

pub fn product(product_id: &str) -> Key {
    Key::new(format!("PRODUCT#{product_id}"), META)
}

/// GSI1 of a product: products by status, then category, for the shopper's list.
pub fn product_gsi1(status: &str, category: &str, product_id: &str) -> (String, String) {
    (
        products_with_status(status),
        format!("{category}#{product_id}"),
    )
}

pub fn products_with_status(status: &str) -> String {
    format!("PRODUCTS#{status}")
}

pub fn sku(sku_id: &str) -> Key {
    Key::new(format!("SKU#{sku_id}"), META)
}

/// GSI1 of a SKU: the SKUs of one product.
pub fn sku_gsi1(product_id: &str, sku_id: &str) -> (String, String) {
    (skus_of_product(product_id), format!("SKU#{sku_id}"))
}

pub fn skus_of_product(product_id: &str) -> String {
    format!("PRODUCT#{product_id}")
}

/// One stock counter of a SKU in a warehouse. A hot SKU's stock may be split over several
/// shards (one DynamoDB partition takes about 1,000 writes a second); shard 0 always exists.
pub fn stock(sku_id: &str, warehouse_id: &str, shard: u8) -> Key {
    Key::new(
        format!("SKU#{sku_id}"),
        format!("{STOCK_PREFIX}{warehouse_id}#{shard:02}"),
    )
}

/// The partition holding a SKU's definition and all its stock counters.
pub fn sku_partition(sku_id: &str) -> String {
    format!("SKU#{sku_id}")
}

/// Parses a stock sort key back into (warehouse, shard).
pub fn parse_stock_sk(sk: &str) -> Option<(&str, u8)> {
    let rest = sk.strip_prefix(STOCK_PREFIX)?;
    let (wh, shard) = rest.rsplit_once('#')?;
    Some((wh, shard.parse().ok()?))
}

pub fn warehouse(warehouse_id: &str) -> Key {
    Key::new(WAREHOUSES, warehouse_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_keys_round_trip() {
        let k = stock("S1", "SH-01", 7);
        assert_eq!(k.sk, "STOCK#SH-01#07");
        assert_eq!(parse_stock_sk(&k.sk), Some(("SH-01", 7)));
        assert_eq!(parse_stock_sk("META"), None);
    }
}
