//! The S3 REST API over the local buckets (path-style, SigV4 service `s3`): enough for the
//! stock `aws s3` / `aws s3api` commands and the SDKs to fetch delivered trail logs.
//!
//! Buckets are the folders under `<data dir>/buckets/` ([`LocalBuckets`]); objects are the
//! files below a bucket's folder, the key being the relative path joined with `/`. Object user
//! metadata (digest signatures) lives in sidecars under `.cairn-meta/` (see [`object`]), which
//! are never objects themselves.
//!
//! | request | operation | roles |
//! |---|---|---|
//! | `GET /` | `ListBuckets` | admin, auditor |
//! | `PUT /<bucket>` | `CreateBucket` | admin |
//! | `HEAD /<bucket>` | `HeadBucket` | admin, auditor |
//! | `GET /<bucket>?location` | `GetBucketLocation` | admin, auditor |
//! | `GET /<bucket>` | `ListObjects` | admin, auditor |
//! | `GET /<bucket>?list-type=2` | `ListObjectsV2` | admin, auditor |
//! | `GET /<bucket>/<key>` | `GetObject` | admin, auditor |
//! | `HEAD /<bucket>/<key>` | `HeadObject` | admin, auditor |
//!
//! Anything else on a bucket or object (other subresources, `PutObject`, ...) answers
//! `NotImplemented`; the `ingest` role is denied everything (`AccessDenied`). Methods other than
//! `GET`, `HEAD` and `PUT` are not S3 requests here and get the router's `UnknownOperation`.
//!
//! Every bucket is in the default region (`--region`). Errors are S3's XML ([`error`]),
//! authentication failures included.
//!
//! S3 calls do not pass through the self-audit layer (it records CloudTrail operations): reads
//! are data events in AWS, which trails record only when asked, and `CreateBucket` is logged
//! with `tracing` at `info`.

mod bucket;
mod error;
mod list;
mod object;
mod xml;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use cairn_core::principal::{Principal, Role};

use self::error::S3Error;
use crate::buckets::LocalBuckets;
use crate::layers;
use crate::layers::authenticate::Authenticated;
use crate::state::AppState;

/// The S3 routes: `GET /` and `GET`/`HEAD`/`PUT` on every other path, behind SigV4 for `s3`.
/// Other methods fall through to the router's `UnknownOperationException` unauthenticated, as
/// before S3 existed.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", with_layers(state, get(handle)))
        .route(
            "/{*path}",
            with_layers(state, get(handle).head(handle).put(handle)).fallback(crate::no_such_route),
        )
}

/// SigV4 for `s3`, its failures in S3's shape. Method-router route layers: they wrap the
/// methods served, not the fallback.
fn with_layers(state: &AppState, methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    const S3: &[&str] = &["s3"];
    // Later layers run first.
    methods
        .route_layer(from_fn_with_state(
            (state.clone(), S3),
            layers::authenticate::layer,
        ))
        .route_layer(from_fn(error::auth_errors))
}

/// The operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    GetObject,
    HeadObject,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::CreateBucket => "CreateBucket",
            Op::HeadBucket => "HeadBucket",
            Op::GetBucketLocation => "GetBucketLocation",
            Op::ListObjects => "ListObjects",
            Op::ListObjectsV2 => "ListObjectsV2",
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
        }
    }

    /// The IAM action it needs, for `AccessDenied` messages.
    fn action(self) -> &'static str {
        match self {
            Op::ListBuckets => "s3:ListAllMyBuckets",
            Op::CreateBucket => "s3:CreateBucket",
            Op::HeadBucket | Op::ListObjects | Op::ListObjectsV2 => "s3:ListBucket",
            Op::GetBucketLocation => "s3:GetBucketLocation",
            Op::GetObject | Op::HeadObject => "s3:GetObject",
        }
    }

    fn allowed(self, role: Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Auditor => self != Op::CreateBucket,
            Role::Ingest => false,
        }
    }
}

/// The decoded query string, in order.
#[derive(Debug, Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query, S3Error> {
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (
                xml::percent_decode(name, true),
                xml::percent_decode(value, true),
            ) {
                (Some(n), Some(v)) => pairs.push((n, v)),
                _ => return Err(invalid_uri()),
            }
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first parameter not in `allowed`, as a `NotImplemented` error.
    fn only(&self, allowed: &[&str]) -> Result<(), S3Error> {
        match self.0.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
            Some((name, _)) => Err(S3Error::not_implemented(format!(
                "Cairn's S3 API does not implement this request (query parameter '{name}')."
            ))),
            None => Ok(()),
        }
    }
}

fn invalid_uri() -> S3Error {
    S3Error::new(
        StatusCode::BAD_REQUEST,
        "InvalidURI",
        "Couldn't parse the specified URI.",
    )
}

/// The bucket and key a path names (`/`, `/<bucket>`, `/<bucket>/`, `/<bucket>/<key>`).
fn parse_path(path: &str) -> Result<(Option<String>, Option<String>), S3Error> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return Ok((None, None));
    }
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, (!key.is_empty()).then_some(key)),
        None => (path, None),
    };
    let decode = |s: &str| xml::percent_decode(s, false).ok_or_else(invalid_uri);
    Ok((Some(decode(bucket)?), key.map(decode).transpose()?))
}

/// Query parameters each kind of request accepts; others answer `NotImplemented`.
const LIST_BUCKETS_PARAMS: &[&str] = &[
    "max-buckets",
    "continuation-token",
    "prefix",
    "bucket-region",
    "x-id",
];
const LIST_PARAMS: &[&str] = &[
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "list-type",
    "continuation-token",
    "start-after",
    "fetch-owner",
    "x-id",
];
const OBJECT_READ_PARAMS: &[&str] = &[
    "versionId",
    "x-id",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
];

/// The operation a request names.
fn resolve(
    method: &Method,
    bucket: Option<&str>,
    key: Option<&str>,
    query: &Query,
) -> Result<Op, S3Error> {
    let op = match (method, bucket, key) {
        (_, None, _) => {
            query.only(LIST_BUCKETS_PARAMS)?;
            Op::ListBuckets
        }
        (&Method::HEAD, Some(_), None) => Op::HeadBucket,
        (&Method::PUT, Some(_), None) => {
            query.only(&["x-id"])?;
            Op::CreateBucket
        }
        (_, Some(_), None) if query.get("location").is_some() => {
            query.only(&["location", "x-id"])?;
            Op::GetBucketLocation
        }
        (_, Some(_), None) => {
            query.only(LIST_PARAMS)?;
            match query.get("list-type") {
                None => Op::ListObjects,
                Some("2") => Op::ListObjectsV2,
                Some(other) => {
                    return Err(S3Error::invalid_argument(format!(
                        "Invalid list-type: {other}"
                    )));
                }
            }
        }
        (&Method::PUT, Some(_), Some(_)) => {
            return Err(S3Error::not_implemented(
                "Cairn's S3 API is read-only: objects are written by trail delivery.",
            ));
        }
        (method, Some(_), Some(_)) => {
            query.only(OBJECT_READ_PARAMS)?;
            if query.get("versionId").is_some_and(|v| v != "null") {
                return Err(S3Error::invalid_argument("Invalid version id specified")
                    .detail("ArgumentName", "versionId"));
            }
            if method == Method::HEAD {
                Op::HeadObject
            } else {
                Op::GetObject
            }
        }
    };
    Ok(op)
}

/// One S3 call: who asks, about what.
struct Call<'a> {
    state: &'a AppState,
    local: &'a LocalBuckets,
    principal: &'a Principal,
    request_id: &'a str,
    bucket: Option<String>,
    key: Option<String>,
    query: Query,
}

impl Call<'_> {
    /// The bucket of a bucket or object operation, validated.
    fn bucket(&self) -> Result<&str, S3Error> {
        let bucket = self.bucket.as_deref().unwrap_or_default();
        match cairn_core::trail::bucket_name(bucket) {
            Ok(()) => Ok(bucket),
            Err(e) => Err(
                S3Error::new(StatusCode::BAD_REQUEST, "InvalidBucketName", e.message)
                    .detail("BucketName", bucket),
            ),
        }
    }

    fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }

    fn region(&self) -> &str {
        &self.state.config.region
    }
}

/// Every S3 request: resolve, authorize, run, answer S3's way.
async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let request_id = error::request_id(&req);
    let head = req.method() == Method::HEAD;
    let mut resp = match serve(&state, &request_id, req).await {
        Ok(resp) => resp,
        Err(e) => e.render(&request_id, head),
    };
    error::set_request_id(&mut resp, &request_id);
    resp
}

async fn serve(state: &AppState, request_id: &str, req: Request) -> Result<Response, S3Error> {
    let Some(auth) = req.extensions().get::<Authenticated>().cloned() else {
        return Err(S3Error::internal(
            "an S3 request reached its handler unauthenticated",
        ));
    };
    let Some(local) = state.buckets.local() else {
        return Err(S3Error::not_implemented(
            "The S3 API serves local buckets only, and this server keeps none.",
        ));
    };
    let (bucket, key) = parse_path(req.uri().path())?;
    let query = Query::parse(req.uri().query())?;
    let op = resolve(req.method(), bucket.as_deref(), key.as_deref(), &query)?;
    let principal = auth.principal();
    let call = Call {
        state,
        local,
        principal,
        request_id,
        bucket,
        key,
        query,
    };
    if !op.allowed(principal.role) {
        let resource = match (&call.bucket, &call.key) {
            (None, _) => "*".to_string(),
            (Some(b), None) => format!("arn:aws:s3:::{b}"),
            (Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
        };
        tracing::info!(
            operation = op.name(),
            principal = %principal.arn(),
            role = %principal.role,
            "S3 call denied"
        );
        return Err(S3Error::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: {} on resource: \"{resource}\" \
                 (Cairn role {} may not)",
                principal.arn(),
                op.action(),
                principal.role
            ),
        ));
    }
    tracing::debug!(
        operation = op.name(),
        bucket = call.bucket.as_deref().unwrap_or_default(),
        key = call.key.as_deref().unwrap_or_default(),
        principal = %principal.arn(),
        "S3 call"
    );
    match op {
        Op::ListBuckets => bucket::list_buckets(&call).await,
        Op::CreateBucket => {
            let body = req
                .extensions()
                .get::<layers::body::RawBody>()
                .map(|b| b.0.clone())
                .unwrap_or_default();
            bucket::create_bucket(&call, &body).await
        }
        Op::HeadBucket => bucket::head_bucket(&call).await,
        Op::GetBucketLocation => bucket::get_bucket_location(&call).await,
        Op::ListObjects => bucket::list_objects(&call, false).await,
        Op::ListObjectsV2 => bucket::list_objects(&call, true).await,
        Op::GetObject | Op::HeadObject => {
            let conditions = object::Conditions::from_headers(req.headers());
            get_object(&call, conditions, op == Op::GetObject).await
        }
    }
}

/// `GetObject` (`with_body`) and `HeadObject`.
async fn get_object(
    call: &Call<'_>,
    conditions: object::Conditions,
    with_body: bool,
) -> Result<Response, S3Error> {
    let bucket = call.bucket()?.to_string();
    let key = call.key().to_string();
    let local = call.local.clone();
    let found =
        blocking(move || object::read(&local, &bucket, &key, &conditions, with_body)).await??;
    let overrides: Vec<(&'static str, String)> = object::RESPONSE_OVERRIDES
        .iter()
        .filter_map(|(param, header)| call.query.get(param).map(|v| (*header, v.to_string())))
        .collect();
    Ok(object::respond(
        found,
        &overrides,
        call.request_id,
        !with_body,
    ))
}

/// Runs filesystem work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(S3Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, uri: &str) -> Result<Op, String> {
        let uri: axum::http::Uri = uri.parse().unwrap();
        let (bucket, key) = parse_path(uri.path()).map_err(|e| e.code.to_string())?;
        let query = Query::parse(uri.query()).map_err(|e| e.code.to_string())?;
        resolve(&method, bucket.as_deref(), key.as_deref(), &query).map_err(|e| e.code.to_string())
    }

    #[test]
    fn requests_resolve_to_operations() {
        use Method as M;
        let cases = [
            (M::GET, "/", Ok(Op::ListBuckets)),
            (M::GET, "/?max-buckets=10&prefix=a", Ok(Op::ListBuckets)),
            (M::PUT, "/logs", Ok(Op::CreateBucket)),
            (M::PUT, "/logs/", Ok(Op::CreateBucket)),
            (M::HEAD, "/logs", Ok(Op::HeadBucket)),
            (M::GET, "/logs?location", Ok(Op::GetBucketLocation)),
            (M::GET, "/logs?location=", Ok(Op::GetBucketLocation)),
            (M::GET, "/logs", Ok(Op::ListObjects)),
            (M::GET, "/logs/?prefix=a&marker=b", Ok(Op::ListObjects)),
            (
                M::GET,
                "/logs?list-type=2&encoding-type=url",
                Ok(Op::ListObjectsV2),
            ),
            (M::GET, "/logs/a/b.json.gz", Ok(Op::GetObject)),
            (
                M::GET,
                "/logs/a?x-id=GetObject&versionId=null",
                Ok(Op::GetObject),
            ),
            (M::HEAD, "/logs/a%20b", Ok(Op::HeadObject)),
            (M::GET, "/logs?list-type=3", Err("InvalidArgument".into())),
            (M::GET, "/logs?versioning", Err("NotImplemented".into())),
            (M::PUT, "/logs?acl", Err("NotImplemented".into())),
            (M::PUT, "/logs/key", Err("NotImplemented".into())),
            (M::GET, "/logs/key?tagging", Err("NotImplemented".into())),
            (
                M::GET,
                "/logs/key?versionId=3",
                Err("InvalidArgument".into()),
            ),
            (M::GET, "/logs/%FF", Err("InvalidURI".into())),
        ];
        for (method, uri, expected) in cases {
            assert_eq!(op(method.clone(), uri), expected, "{method} {uri}");
        }
    }

    #[test]
    fn paths_decode_once() {
        assert_eq!(
            parse_path("/logs/a%20b/%C3%BC+c%2Fd").unwrap(),
            (Some("logs".into()), Some("a b/ü+c/d".into()))
        );
        assert_eq!(parse_path("/logs/").unwrap(), (Some("logs".into()), None));
        let q = Query::parse(Some("prefix=a+b%2Bc&delimiter=%2F&location")).unwrap();
        assert_eq!(q.get("prefix"), Some("a b+c"));
        assert_eq!(q.get("delimiter"), Some("/"));
        assert_eq!(q.get("location"), Some(""));
    }

    #[test]
    fn roles() {
        assert!(Op::CreateBucket.allowed(Role::Admin));
        assert!(!Op::CreateBucket.allowed(Role::Auditor));
        assert!(Op::GetObject.allowed(Role::Auditor));
        assert!(!Op::ListBuckets.allowed(Role::Ingest));
    }
}
