//! A small SigV4-signing HTTP client for Cairn's JSON API (benchmarks, `cairn validate-logs`).

use cairn_api::sigv4::{SecretKey, SignRequest, sign};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Signs and sends requests to one Cairn endpoint.
#[derive(Clone)]
pub struct SignedClient {
    http: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    host: String,
    key_id: String,
    secret: SecretKey,
    region: String,
}

/// A response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// The `x-amzn-RequestId` header.
    pub request_id: Option<String>,
}

impl SignedClient {
    /// A client for `endpoint` signing with `key_id`/`secret` for `region`.
    pub fn with_key(endpoint: &str, key_id: &str, secret: &str, region: &str) -> SignedClient {
        let endpoint = endpoint.trim_end_matches('/');
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        SignedClient {
            http: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build(connector),
            endpoint: endpoint.to_string(),
            host: endpoint.trim_start_matches("http://").to_string(),
            key_id: key_id.to_string(),
            secret: SecretKey::new(secret),
            region: region.to_string(),
        }
    }

    /// `POST /` with a CloudTrail JSON 1.1 operation.
    pub async fn cloudtrail(&self, op: &str, body: &str) -> anyhow::Result<Reply> {
        let target = format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{op}");
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        self.post("/", "", &headers, body.as_bytes(), "cloudtrail")
            .await
    }

    /// A signed `POST path?query` for `service`.
    pub async fn post(
        &self,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        service: &str,
    ) -> anyhow::Result<Reply> {
        let req = SignRequest {
            method: "POST",
            path,
            query,
            headers,
            body,
        };
        let auth = sign(
            &req,
            &self.key_id,
            &self.secret,
            &self.region,
            service,
            chrono::Utc::now(),
        );
        let uri = if query.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{query}", self.endpoint)
        };
        let mut builder = hyper::Request::post(uri);
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            builder = builder.header(*k, *v);
        }
        for (k, v) in &auth {
            builder = builder.header(*k, v.as_str());
        }
        let resp = self
            .http
            .request(builder.body(Full::new(Bytes::copy_from_slice(body)))?)
            .await?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            body,
            request_id,
        })
    }
}
