//! The shop's use cases, one folder per context: each reads what it needs through the store,
//! asks the domain to decide, and writes the outcome. A context never calls another: what a
//! change means elsewhere travels as an outbox event to the [`consumers`], and what must span
//! contexts in one request is a named workflow in [`workflows`]. [`App`] holds what they share,
//! built once at start by the host (`hosting`), which also reads the settings; rules without
//! I/O live below this crate (`domain`).

// Contexts: each imports none of the others.
pub mod cart;
pub mod catalog;
pub mod coupons;
pub mod fulfilment;
pub mod members;
pub mod notices;
pub mod operators;
pub mod ordering;
pub mod payments;
pub mod reconciliation;
pub mod refunds;
pub mod returns;
pub mod search;
pub mod stock_alerts;
pub mod targets;
pub mod users;

// What spans contexts.
pub mod consumers;
pub mod workflows;

// Shared by all: the error, the look-ups of records several contexts read, cases for
// operators, messages to their robot, the audit trail, the outbox's delivery, the shop's rules.
pub mod alerts;
pub mod audit;
pub mod cases;
pub mod error;
pub mod lookup;
pub mod outbox;
pub mod retry;
pub mod rules;

use std::sync::Arc;

pub use domain::clock;
pub use error::{AppError, Code};
pub use rules::Rules;

use store::SharedStore;
use wechat::MiniProgram;
use wechat::pay::PayClient;
use wechat::robot::Robot;

#[derive(Clone)]
pub struct App {
    pub store: SharedStore,
    pub rules: Arc<Rules>,
    pub wechat: Arc<MiniProgram>,
    /// WeChat Pay, when the merchant settings are present.
    pub pay: Option<Arc<PayClient>>,
    /// The operators' WeCom group robot, when one is configured.
    pub robot: Option<Arc<Robot>>,
    /// The store without this process's cache, for reads that must see the latest write.
    pub uncached: SharedStore,
    /// This instance's search index.
    pub search: Arc<search::Engine>,
    /// The bucket images are uploaded to, when one is configured.
    pub objects: Option<Arc<store::objects::ObjectStore>>,
    /// Wakes this process's outbox worker, if it runs one ([`App::poke_outbox`]).
    outbox_signal: Arc<tokio::sync::Notify>,
}

impl App {
    pub fn new(
        store: SharedStore,
        rules: Rules,
        wechat: MiniProgram,
        pay: Option<PayClient>,
        robot: Option<Robot>,
    ) -> Self {
        App {
            // Settings and catalog definitions are held a few seconds (store::cache::TTL).
            store: Arc::new(store::cache::Cached::new(store.clone(), store::cache::TTL)),
            uncached: store,
            search: Arc::default(),
            rules: Arc::new(rules),
            wechat: Arc::new(wechat),
            pay: pay.map(Arc::new),
            robot: robot.map(Arc::new),
            objects: None,
            outbox_signal: Arc::default(),
        }
    }

    /// The same application with a bucket for images.
    pub fn with_objects(self, objects: store::objects::ObjectStore) -> App {
        App { objects: Some(Arc::new(objects)), ..self }
    }

    pub fn objects(&self) -> Result<&store::objects::ObjectStore, AppError> {
        self.objects
            .as_deref()
            .ok_or_else(|| AppError::unavailable("object storage is not configured for this shop (MEDIA_BUCKET)"))
    }

    /// The same application over another store (one that reads ahead for a request).
    pub fn with_store(&self, store: SharedStore) -> App {
        App { store, ..self.clone() }
    }

    pub fn pay(&self) -> Result<&PayClient, AppError> {
        self.pay.as_deref().ok_or_else(|| AppError::unavailable("WeChat Pay is not configured for this shop"))
    }

    /// Tells a worker, if this process runs one, that events are waiting. A process without a
    /// worker (or one that dies first) leaves them to the sweep or the stream: the event is in
    /// the store either way.
    pub fn poke_outbox(&self) {
        self.outbox_signal.notify_one();
    }

    /// Waits until a use case pokes the outbox (for the worker).
    pub async fn outbox_poked(&self) {
        self.outbox_signal.notified().await;
    }
}
