//! The stock AWS CLI (`pip install awscli`, installed by `.ci/run`) against a real server.

use std::process::{Command, Output};

use crate::util::Server;

/// Runs `aws --endpoint-url <server> <args>` with the given key, isolated from any user config.
pub fn aws(server: &Server, key: &str, secret: &str, args: &[&str]) -> Output {
    Command::new("aws")
        .arg("--endpoint-url")
        .arg(&server.endpoint)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .expect("the aws CLI is installed (.ci/run installs it with pip)")
}

#[tokio::test]
async fn describe_trails_with_the_aws_cli() {
    let server = Server::start();
    let (key, secret) = server.admin.clone();
    let out = aws(&server, &key, &secret, &["cloudtrail", "describe-trails"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body, serde_json::json!({"trailList": []}));

    let out = aws(
        &server,
        &key,
        &secret,
        &["cloudtrail", "get-trail", "--name", "nope"],
    );
    assert_eq!(out.status.code(), Some(255));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "An error occurred (TrailNotFoundException) when calling the GetTrail operation"
        ),
        "{stderr}"
    );

    let out = aws(&server, &key, "wrong", &["cloudtrail", "describe-trails"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidSignatureException"));

    let events = server.events().await;
    assert_eq!(
        events.len(),
        2,
        "the bad signature never reached an operation"
    );
    assert!(
        events[0].1["userAgent"]
            .as_str()
            .unwrap()
            .starts_with("aws-cli/")
    );
    assert_eq!(events[0].1["eventName"], "DescribeTrails");
    assert_eq!(events[1].1["eventName"], "GetTrail");
}
