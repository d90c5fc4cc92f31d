//! What must span contexts in one request, each a named sequence of context steps. A
//! workflow may call any context; no context calls another, nor a workflow.

pub mod close_order;
pub mod members_daily;
pub mod pay_order;
pub mod place_order;
pub mod reconcile;
pub mod return_goods;
