//! Where the shop meets its hosts: the platform-neutral request and response, the routes of
//! every function, authentication of shoppers and operators, the one table that turns an
//! application error into a status, and the Lambda and HTTP-server adapters.

pub mod auth;
pub mod errors;
pub mod lambda;
pub mod request;
pub mod routes;
pub mod run;
pub mod scf;
pub mod server;
pub mod timetable;
pub mod worker;

pub use app::config::Uses;
pub use request::{Handler, Request, Response, dispatch};
pub use run::{app_from_env, init_tracing, run, run_function, run_job, serve};
