//! Which counters an order's units come from, and the sub-orders that makes.

use std::collections::{BTreeMap, HashMap};

use super::hold::Reservation;
use super::shipping::SubOrder;
use crate::catalog::StockLevel;
use crate::ids::{SkuId, WarehouseId};

/// Chooses counters for `demand` (stock-bearing SKU → units) from `stock` (SKU → counters):
/// one warehouse holding everything if any (the fullest such), else the fewest warehouses,
/// greedily taking the one that covers most of what is left. Err names a SKU that cannot
/// be covered.
///
/// Within a warehouse a SKU's stock may be split over shards (sort keys of the SKU's one
/// partition: they spread transaction conflicts, not partition throughput). Shoppers placing
/// at the same moment read the same counts, so a rule like "the fullest shard" would send
/// them all to one counter and their transactions would conflict; instead, among the shards
/// that can cover the need alone, `spread` (any number that differs between orders, e.g. from
/// the order number) picks one. Only a need no single shard covers takes the fullest shards
/// first.
pub fn allocate(
    demand: &BTreeMap<SkuId, i64>,
    stock: &HashMap<SkuId, Vec<StockLevel>>,
    spread: u64,
) -> Result<Vec<Reservation>, SkuId> {
    // warehouse → sku → counters (shard, available), fullest first
    let mut by_wh: BTreeMap<WarehouseId, HashMap<SkuId, Vec<(u8, i64)>>> = BTreeMap::new();
    for (sku, levels) in stock {
        for l in levels.iter().filter(|l| l.available > 0) {
            by_wh
                .entry(l.warehouse_id.clone())
                .or_default()
                .entry(sku.clone())
                .or_default()
                .push((l.shard, l.available));
        }
    }
    for skus in by_wh.values_mut() {
        for shards in skus.values_mut() {
            shards.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
    }
    let held = |wh: &HashMap<SkuId, Vec<(u8, i64)>>, sku: &SkuId| {
        wh.get(sku).map(|v| v.iter().map(|s| s.1).sum()).unwrap_or(0i64)
    };
    let mut remaining = demand.clone();
    let mut out = Vec::new();
    let whole = by_wh
        .iter()
        .filter(|(_, skus)| demand.iter().all(|(sku, n)| held(skus, sku) >= *n))
        .max_by_key(|(id, skus)| (demand.keys().map(|s| held(skus, s)).sum::<i64>(), std::cmp::Reverse((*id).clone())))
        .map(|(id, _)| id.clone());
    let mut used: Vec<WarehouseId> = Vec::new();
    loop {
        if remaining.values().all(|n| *n == 0) {
            break;
        }
        let pick = if let Some(id) = whole.as_ref().filter(|id| !used.contains(id)) {
            Some(id.clone())
        } else {
            by_wh
                .iter()
                .filter(|(id, _)| !used.contains(id))
                .map(|(id, skus)| (remaining.iter().map(|(s, n)| held(skus, s).min(*n)).sum::<i64>(), id))
                .filter(|(covered, _)| *covered > 0)
                .max_by_key(|(covered, id)| (*covered, std::cmp::Reverse((*id).clone())))
                .map(|(_, id)| id.clone())
        };
        let Some(wh) = pick else {
            // The loop goes on only while some SKU is short: that one cannot be covered.
            match remaining.iter().find(|(_, n)| **n > 0) {
                Some((sku, _)) => return Err(sku.clone()),
                None => break,
            }
        };
        used.push(wh.clone());
        let skus = &by_wh[&wh];
        for (sku, need) in remaining.iter_mut().filter(|(_, n)| **n > 0) {
            let shards = skus.get(sku).map(Vec::as_slice).unwrap_or(&[]);
            let covers = |(_, avail): &&(u8, i64)| *avail >= *need;
            let fits = shards.iter().filter(covers).count() as u64;
            if let Some((shard, _)) = shards.iter().filter(covers).nth((spread % fits.max(1)) as usize) {
                out.push(Reservation { sku_id: sku.clone(), warehouse_id: wh.clone(), shard: *shard, quantity: *need });
                *need = 0;
                continue;
            }
            for (shard, avail) in shards {
                if *need == 0 {
                    break;
                }
                let take = (*avail).min(*need);
                out.push(Reservation { sku_id: sku.clone(), warehouse_id: wh.clone(), shard: *shard, quantity: take });
                *need -= take;
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The sub-orders a set of reservations makes: one per warehouse.
pub fn sub_orders<'a>(reservations: impl IntoIterator<Item = &'a Reservation>) -> Vec<SubOrder> {
    let mut by_wh: BTreeMap<WarehouseId, BTreeMap<SkuId, i64>> = BTreeMap::new();
    for r in reservations {
        *by_wh.entry(r.warehouse_id.clone()).or_default().entry(r.sku_id.clone()).or_insert(0) += r.quantity;
    }
    by_wh.into_iter().map(|(warehouse_id, items)| SubOrder { warehouse_id, items, shipment: None }).collect()
}
