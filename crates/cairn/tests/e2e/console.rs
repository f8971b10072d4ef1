//! The web console: plain HTTP checks (sign-in redirect, cookies, CSRF, rate limit, the
//! ConsoleLogin records) and a browser test in headless Chromium (`tests/console/`, Playwright)
//! that walks the whole flow and saves screenshots to `target/console-screenshots/`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;

use crate::util::Server;

const PASSWORD: &str = "console-password-1";

/// Adds a console user with `cairn users add --password-stdin`.
fn add_console_user(server: &Server, name: &str, role: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "users",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&server.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "users add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(PASSWORD), "the password is never printed");
    let file = std::fs::read_to_string(server.data_dir.join("credentials.json")).unwrap();
    assert!(file.contains("$argon2id$") && !file.contains(PASSWORD));
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The sign-in form's CSRF cookie and token.
async fn signin_token(server: &Server) -> String {
    let resp = client()
        .get(format!("{}/console/signin", server.endpoint))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&resp, "cairn_signin").expect("sign-in cookie");
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("cairn_signin=")
        .to_string();
    let body = resp.text().await.unwrap();
    assert!(body.contains(&format!("name=\"csrf\" value=\"{token}\"")));
    token
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

async fn sign_in(server: &Server, user: &str, password: &str) -> reqwest::Response {
    let token = signin_token(server).await;
    client()
        .post(format!("{}/console/signin", server.endpoint))
        .header("cookie", format!("cairn_signin={token}"))
        .form(&[
            ("csrf", token.as_str()),
            ("next", "/console/trails"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

async fn console_logins(server: &Server) -> Vec<Value> {
    let found = server
        .admin_client()
        .lookup_events()
        .lookup_attributes(
            LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventName)
                .attribute_value("ConsoleLogin")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    found
        .events()
        .iter()
        .map(|e| serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_rate_limit_over_plain_http() {
    let server = Server::start();
    add_console_user(&server, "alice", "admin");
    let c = client();

    // Unauthenticated pages redirect to the sign-in page; /console to /console/.
    let r = c
        .get(format!("{}/console/trails", server.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/console/signin?next=%2Fconsole%2Ftrails"
    );
    let r = c
        .get(format!("{}/console", server.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/console/");

    // A sign-in POST without the form's token is refused.
    let r = c
        .post(format!("{}/console/signin", server.endpoint))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Wrong password, then unknown user: 401, recorded as failed ConsoleLogins.
    assert_eq!(sign_in(&server, "alice", "nope").await.status(), 401);
    assert_eq!(sign_in(&server, "mallory", PASSWORD).await.status(), 401);
    let logins = console_logins(&server).await;
    assert_eq!(logins.len(), 2);
    let unknown = &logins[0];
    assert_eq!(
        unknown["userIdentity"]["userName"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    assert_eq!(unknown["responseElements"]["ConsoleLogin"], "Failure");
    assert_eq!(unknown["errorMessage"], "Failed authentication");
    assert_eq!(unknown["eventType"], "AwsConsoleSignIn");
    assert_eq!(logins[1]["userIdentity"]["userName"], "alice");

    // The right password: a session cookie with the right attributes.
    let r = sign_in(&server, "alice", PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/trails");
    let cookie = set_cookie(&r, "cairn_session").expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attr), "{cookie} has {attr}");
    }
    assert!(!cookie.contains("Secure"), "no Secure without TLS");
    let session = cookie.split(';').next().unwrap().to_string();
    let logins = console_logins(&server).await;
    assert_eq!(logins[0]["responseElements"]["ConsoleLogin"], "Success");
    assert_eq!(
        logins[0]["additionalEventData"]["LoginTo"],
        format!("{}/console/", server.endpoint)
    );

    // Signed in: pages render with the security headers.
    let r = c
        .get(format!("{}/console/trails", server.endpoint))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let page = r.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();

    // POSTs without or with a wrong CSRF token, or from another origin: 403, nothing done.
    let start = format!("{}/console/trails/trail-1/start", server.endpoint);
    for (token, origin) in [
        ("", None),
        ("0000", None),
        (csrf.as_str(), Some("http://evil.example")),
    ] {
        let mut req = c
            .post(&start)
            .header("cookie", &session)
            .form(&[("csrf", token)]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        assert_eq!(req.send().await.unwrap().status(), 403);
    }
    // With the token the operation runs (and fails the API's way: no such trail).
    let r = c
        .post(&start)
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("TrailNotFoundException"), "{text}");

    // Sign-out ends the session.
    let r = c
        .post(format!("{}/console/signout", server.endpoint))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        set_cookie(&r, "cairn_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = c
        .get(format!("{}/console/", server.endpoint))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // Rate limit: alice has used 2 of her 5 attempts a minute; then even the right password is
    // refused, and refused attempts are not recorded.
    for _ in 0..3 {
        assert_eq!(sign_in(&server, "alice", "nope").await.status(), 401);
    }
    let r = sign_in(&server, "alice", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(console_logins(&server).await.len(), 6);
}

#[tokio::test]
async fn an_auditor_sees_access_denied() {
    let server = Server::start();
    add_console_user(&server, "audrey", "auditor");
    let r = sign_in(&server, "audrey", PASSWORD).await;
    let session = set_cookie(&r, "cairn_session").unwrap();
    let session = session.split(';').next().unwrap().to_string();
    let c = client();
    let page = c
        .get(format!("{}/console/trails/new", server.endpoint))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    server.create_bucket("audit-bucket");
    let r = c
        .post(format!("{}/console/trails/new", server.endpoint))
        .header("cookie", &session)
        .header("user-agent", "Mozilla/5.0 test")
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "t1"),
            ("storage", "existing"),
            ("existing_bucket", "audit-bucket"),
            ("selector_mode", "basic"),
            ("management", "on"),
            ("read", "on"),
            ("write", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("AccessDeniedException"));
    // The denial is recorded as the auditor's console call.
    let events = server.events().await;
    let denied = events
        .iter()
        .map(|(_, v)| v)
        .find(|v| v["eventName"] == "CreateTrail")
        .expect("the CreateTrail call is recorded");
    assert_eq!(denied["errorCode"], "AccessDeniedException");
    assert_eq!(denied["sessionCredentialFromConsole"], "true");
    assert_eq!(denied["userAgent"], "Mozilla/5.0 test");
    assert_eq!(denied["userIdentity"]["userName"], "audrey");
    assert!(
        denied["userIdentity"]["accessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    assert_eq!(
        denied["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Chromium and the test's node modules, or why they are missing.
fn browser_setup() -> Result<(PathBuf, PathBuf), String> {
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chromium.is_file() {
        return Err(format!(
            "{} not found (apt-get install chromium)",
            chromium.display()
        ));
    }
    let dir = repo_root().join("tests/console");
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Err(format!(
            "{}/node_modules missing (npm ci there)",
            dir.display()
        ));
    }
    Ok((chromium, dir))
}

#[tokio::test]
async fn the_console_in_a_browser() {
    let (chromium, dir) = match browser_setup() {
        Ok(found) => found,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "\n*** SKIPPING the browser test of the console: {why}. scripts/test installs it. ***\n"
            );
            return;
        }
        Err(why) => panic!("the console's browser test cannot run under CI: {why}"),
    };
    let server = Server::start_with(&["--delivery-interval", "1"]);
    add_console_user(&server, "alice", "admin");
    let shots = repo_root().join("target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);

    let mut node = Command::new("node")
        .arg(dir.join("console.test.js"))
        .current_dir(&dir)
        .env("CAIRN_ENDPOINT", &server.endpoint)
        .env("CONSOLE_USER", "alice")
        .env("CONSOLE_PASSWORD", PASSWORD)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut stdin = node.stdin.take().unwrap();
    let stdout = BufReader::new(node.stdout.take().unwrap());
    // The node side asks for the SDK call once the trail is logging; the lines are read on a
    // blocking thread and handed over, so the SDK call runs on this runtime.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            println!("browser: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut done = false;
    while let Some(line) = rx.recv().await {
        match line.as_str() {
            "NEED sdk-call" => {
                let out = server
                    .admin_client()
                    .list_public_keys()
                    .send()
                    .await
                    .unwrap();
                let _ = out;
                // The request id is the event's requestID: find it in the log.
                let events = server.events().await;
                let id = events
                    .iter()
                    .rev()
                    .find(|(_, v)| v["eventName"] == "ListPublicKeys")
                    .map(|(_, v)| v["requestID"].as_str().unwrap().to_string())
                    .expect("the SDK call is recorded");
                writeln!(stdin, "{id}").unwrap();
            }
            "DONE" => done = true,
            _ => {}
        }
    }
    let status = node.wait().unwrap();
    assert!(
        status.success() && done,
        "the browser test failed (screenshots in {})",
        shots.display()
    );

    // The store's side of what the browser did.
    let events = server.events().await;
    let by = |name: &str| -> Vec<&Value> {
        events
            .iter()
            .map(|(_, v)| v)
            .filter(|v| v["eventName"] == name)
            .collect()
    };
    let logins = by("ConsoleLogin");
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0]["responseElements"]["ConsoleLogin"], "Failure");
    assert_eq!(logins[1]["responseElements"]["ConsoleLogin"], "Success");
    let created: Vec<_> = by("CreateTrail")
        .into_iter()
        .filter(|v| v.get("errorCode").is_none())
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["sessionCredentialFromConsole"], "true");
    assert!(created[0]["userAgent"].as_str().unwrap().contains("Chrome"));
    for name in [
        "StartLogging",
        "StopLogging",
        "DeleteTrail",
        "PutEventSelectors",
    ] {
        let found = by(name);
        assert_eq!(found.len(), 1, "{name}");
        assert_eq!(found[0]["userIdentity"]["userName"], "alice");
        assert!(found[0].get("errorCode").is_none(), "{name}: {}", found[0]);
    }
    // The bad name never reached a CreateTrail call: the wizard checks it with the API's rule
    // first so no bucket is made for it.
    assert!(server.data_dir.join("buckets/console-bucket").is_dir());
    let shots_taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(shots_taken >= 20, "{shots_taken} screenshots");
}
