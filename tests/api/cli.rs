//! The `sessiond` binary itself: bootstrap subcommands and `serve`, as an operator runs them.

use crate::common::PASSWORD;
use crate::support::process::{BIN, Server, sessiond, text};
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;

#[tokio::test]
async fn user_add_and_token_add_bootstrap_offline() {
    let test_db = crate::common::test_db().await;
    let db = test_db.url.clone();
    let out = sessiond(
        &db,
        &["user", "add", "--email", "Admin@Example.com", "--name", "Admin", "--role", "admin", "--password-stdin"],
        Some("a-long-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("admin@example.com"));

    // Duplicate email (any case) is a clear error with a failing exit code.
    let out = sessiond(
        &db,
        &["user", "add", "--email", "ADMIN@example.com", "--name", "Again", "--password-stdin"],
        Some("a-long-password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    // Bad role, bad email, short password: refused.
    for (args, stdin) in [
        (vec!["user", "add", "--email", "x@example.com", "--name", "X", "--role", "owner"], None),
        (vec!["user", "add", "--email", "not-an-email", "--name", "X"], None),
        (vec!["user", "add", "--email", "y@example.com", "--name", "Y", "--password-stdin"], Some("short\n")),
    ] {
        let out = sessiond(&db, &args, stdin);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(text(&out.stderr).starts_with("error:"), "{}", text(&out.stderr));
    }

    // [E-22] the token is alone on the last line of stdout.
    let out = sessiond(&db, &["token", "add", "--email", "admin@example.com"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.lines().last().expect("last line").to_owned();
    assert_eq!(token.len(), 43, "{stdout}");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let out = sessiond(&db, &["token", "add", "--email", "nobody@example.com"], None);
    assert!(!out.status.success());
}

#[tokio::test]
async fn serve_walkthrough_with_cli_revocation_and_graceful_shutdown() {
    let test_db = crate::common::test_db().await;
    let db = test_db.url.clone();
    // An empty database: the log says how to create the first admin.
    let server = Server::start(&db);
    assert!(
        server.startup.iter().any(|l| l.contains("sessiond user add") && l.contains("--role admin")),
        "{:?}",
        server.startup
    );
    assert!(server.terminate().success());

    let out = sessiond(
        &db,
        &["user", "add", "--email", "ada@example.com", "--name", "Ada", "--role", "admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token_out = sessiond(&db, &["token", "add", "--email", "ada@example.com"], None);
    let api_token = text(&token_out.stdout).lines().last().expect("token").to_owned();

    let server = Server::start(&db);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/access/login", server.base))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let body: serde_json::Value = r.json().await.expect("json");
    let session_id = body["session"]["id"].as_i64().expect("id");

    let me = |c: String| http.get(format!("{}/api/v2/users/me/session.json", server.base)).header("cookie", c).send();
    assert_eq!(me(cookie.clone()).await.expect("me").status(), StatusCode::OK);
    let r = http
        .get(format!("{}/api/v2/sessions.json", server.base))
        .basic_auth("ada@example.com/token", Some(&api_token))
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::OK);

    // The CLI lists the session, and revoking it is honoured by the running server at once.
    let out = sessiond(&db, &["sessions", "list"], None);
    assert!(text(&out.stdout).lines().any(|l| l.split_whitespace().next() == Some(&session_id.to_string())));
    let out = sessiond(&db, &["sessions", "revoke", "--id", &session_id.to_string()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(me(cookie.clone()).await.expect("me").status(), StatusCode::UNAUTHORIZED);
    let out = sessiond(&db, &["sessions", "revoke", "--id", &session_id.to_string()], None);
    assert!(!out.status.success(), "revoking a missing session is an error");
    let out = sessiond(&db, &["sessions", "revoke", "--user", "1"], None);
    assert!(out.status.success());

    // SIGTERM: a clean exit.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// The hidden `bench-seed` writes working credentials for the benchmark's load driver.
#[tokio::test]
async fn bench_seed_writes_credentials_that_work() {
    let test_db = crate::common::test_db().await;
    let db = test_db.url.clone();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out_path = out_dir.path().to_str().expect("utf-8 path");
    let out = sessiond(
        &db,
        &[
            "bench-seed",
            "--sessions",
            "60",
            "--live",
            "10",
            "--bulk-user-sessions",
            "20",
            "--tokens",
            "3",
            "--out",
            out_path,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("60 sessions"), "{}", text(&out.stdout));
    let read = |name: &str| std::fs::read_to_string(out_dir.path().join(name)).expect(name);
    let cookies: Vec<String> = read("cookies.txt").lines().map(str::to_owned).collect();
    assert_eq!(cookies.len(), 10);
    let cookie_name = read("cookie_name.txt").trim().to_owned();
    let server = Server::start(&db);
    let http = reqwest::Client::new();
    let get =
        |path: &str, name: &str, value: String| http.get(format!("{}{path}", server.base)).header(name, value).send();
    for c in &cookies {
        let r = get("/api/v2/users/me/session", "cookie", format!("{cookie_name}={c}")).await.expect("check");
        assert_eq!(r.status(), StatusCode::OK);
    }
    for file in ["api_tokens.txt", "bearer.txt", "admin.txt"] {
        let lines = read(file);
        assert!(!lines.is_empty(), "{file} is empty");
        for line in lines.lines() {
            let (name, value) = line.split_once(": ").expect("header line");
            let r = get("/api/v2/users/me", name, value.to_owned()).await.expect("check");
            assert_eq!(r.status(), StatusCode::OK, "{file}: {line}");
        }
    }
    // The admin sees every seeded session; the bulk user holds its 20.
    let (name, value) =
        read("admin.txt").trim().split_once(": ").map(|(a, b)| (a.to_owned(), b.to_owned())).expect("admin");
    let r = get("/api/v2/sessions?per_page=100", &name, value.clone()).await.expect("list");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["count"], 60);
    let bulk = read("bulk_user_id.txt").trim().to_owned();
    let r = get(&format!("/api/v2/users/{bulk}/sessions?per_page=100"), &name, value).await.expect("list");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["count"], 20);
    // The sign-in file signs in.
    let creds: serde_json::Value = serde_json::from_str(&read("signin.json")).expect("signin.json");
    let r = http.post(format!("{}/access/login", server.base)).json(&creds).send().await.expect("sign in");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(server.terminate().success());
}

#[test]
fn help_and_bad_arguments() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(out.status.success());
    for sub in ["serve", "user", "token", "sessions"] {
        assert!(text(&out.stdout).contains(sub));
    }
    let out = Command::new(BIN).args(["sessions", "revoke"]).output().expect("run");
    assert!(!out.status.success());
    let out = Command::new(BIN).args(["serve", "--database-url", "mysql://x"]).output().expect("run");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unsupported database URL"));
}
