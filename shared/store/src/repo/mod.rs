//! Repositories: per context, the items its records are stored as and the reads and
//! conditional writes over the port that speak domain types. Keys come from [`crate::keys`]
//! only; the application never builds an item or a key itself.

pub mod cases;
pub mod coupons;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod refunds;
