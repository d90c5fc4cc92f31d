//! Where the shop meets its hosts and is composed: the settings read from the environment (and
//! secrets), the application built from them, the platform-neutral request and response, the
//! routes of every function, authentication of shoppers and operators, the one table that
//! turns an application error into a status, and the Lambda, SCF and HTTP-server adapters.

pub mod auth;
pub mod config;
pub mod errors;
pub mod lambda;
pub mod request;
pub mod routes;
pub mod run;
pub mod sample;
pub mod scf;
pub mod secrets;
pub mod server;
pub mod service;
pub mod session;
pub mod timetable;
pub mod worker;

pub use config::Uses;
pub use request::{Handler, Request, Response, dispatch};
pub use run::{init_tracing, run, run_function, run_job, serve, service_from_env};
pub use service::Service;
