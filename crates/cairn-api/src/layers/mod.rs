//! The request pipeline's cross-cutting steps, one module each, in the order they run:
//!
//! 1. [`request_id`]: gives every request an id, echoed as `x-amzn-RequestId`.
//! 2. [`body`]: buffers the body behind a size limit (SigV4 must hash it).
//! 3. [`authenticate`]: SigV4 → an [`authenticate::Authenticated`] principal.
//! 4. [`json_protocol`]: `X-Amz-Target` → [`cairn_core::operation::Operation`], body → JSON
//!    (CloudTrail); [`rest_json`]: path → operation, query string, body check (cloudtrail-data).
//! 5. [`audit`]: authorization, then the call, then its event committed durably together with
//!    the call's state change — or the call fails and changes nothing.

pub mod audit;
pub mod authenticate;
pub mod body;
pub mod json_protocol;
pub mod request_id;
pub mod response_log;
pub mod rest_json;

use std::net::SocketAddr;

use cairn_core::audit::TlsFacts;

/// Facts about the connection a request came on, inserted by the server's accept loop.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// TLS version and cipher, when the connection is TLS.
    pub tls: Option<TlsFacts>,
}
