//! The `tributary` binary: `demo` serves growing live projections, `sql` prints them, and
//! Ctrl-C (SIGINT) drains and exits 0; `demo --source http` takes HTTP ingest only and keeps
//! its dead letters under the data directory.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::post_sql;

struct Demo(Child);

impl Demo {
    fn spawn(addr: SocketAddr, data: &Path, args: &[&str]) -> anyhow::Result<Self> {
        Ok(Self(
            Command::new(env!("CARGO_BIN_EXE_tributary"))
                .args(["demo", "--listen", &addr.to_string(), "--workers", "2"])
                .args(args)
                .arg("--data")
                .arg(data)
                .env_remove("TRIBUTARY_JWT_SECRET")
                .env_remove("TRIBUTARY_JWT_PUBLIC_KEY_FILE")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?,
        ))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

async fn wait_until_serving(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, body)) = post_sql(addr, "SELECT count(*) FROM sensor_stats").await
            && body["rows"][0][0].as_i64().unwrap_or(0) > 0
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("demo did not serve sensor_stats within 60 s")
}

async fn counts(addr: SocketAddr) -> anyhow::Result<Vec<i64>> {
    let (status, body) = post_sql(
        addr,
        "SELECT sensor_id, count, avg FROM sensor_stats ORDER BY sensor_id LIMIT 5",
    )
    .await?;
    anyhow::ensure!(status == 200, "{body}");
    Ok(body["rows"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r[1].as_i64()).collect())
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_growing_projections_and_stops_cleanly_on_sigint() -> anyhow::Result<()> {
    let addr = free_addr()?;
    let data = tempfile::tempdir()?;
    let binary = env!("CARGO_BIN_EXE_tributary");
    let mut demo = Demo::spawn(addr, data.path(), &["--rate", "2000", "--sensors", "10"])?;
    wait_until_serving(addr).await?;

    let first = counts(addr).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = counts(addr).await?;
    assert_eq!(first.len(), 5);
    assert_eq!(second.len(), 5);
    assert!(
        first.iter().zip(&second).all(|(a, b)| b > a),
        "counts must grow: {first:?} then {second:?}"
    );

    let printed = Command::new(binary)
        .args([
            "sql",
            "SELECT sensor_id, count FROM sensor_stats ORDER BY sensor_id LIMIT 2",
            "--server",
        ])
        .arg(format!("http://{addr}"))
        .output()?;
    assert!(printed.status.success());
    let table = String::from_utf8(printed.stdout)?;
    assert!(table.contains("| sensor_id | count"), "{table}");
    assert!(table.contains("(2 rows, as_of "), "{table}");

    let refused = Command::new(binary)
        .args(["sql", "DROP TABLE sensor_stats", "--server"])
        .arg(format!("http://{addr}"))
        .output()?;
    assert!(!refused.status.success());
    assert!(String::from_utf8(refused.stderr)?.contains("403"));

    let status = Command::new("kill").args(["-INT", &demo.0.id().to_string()]).status()?;
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(exit) = demo.0.try_wait()? {
            assert!(exit.success(), "demo exited with {exit}");
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "demo did not stop within 30 s of SIGINT");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_on_http_ingest_only_applies_good_lines_and_files_bad_ones() -> anyhow::Result<()> {
    let addr = free_addr()?;
    let data = tempfile::tempdir()?;
    let _demo = Demo::spawn(addr, data.path(), &["--source", "http"])?;
    let client = reqwest::Client::new();
    let body = concat!(
        r#"{"sensor_id": 1, "ts": 1000, "value": 20.0}"#,
        "\n",
        r#"{"sensor_id": 1, "ts": "1970-01-01T00:00:02Z", "value": 22.0}"#,
        "\n",
        r#"{"sensor_id": "one", "ts": 3000, "value": 1.0}"#,
        "\n",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let report: serde_json::Value = loop {
        let sent = client
            .post(format!("http://{addr}/v1/ingest/readings"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await;
        if let Ok(response) = sent {
            anyhow::ensure!(response.status() == 200, "ingest answered {}", response.status());
            break response.json().await?;
        }
        anyhow::ensure!(Instant::now() < deadline, "demo did not serve within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rejected"], 1, "{report}");
    assert_eq!(report["errors"][0]["line"], 3, "{report}");
    let ticket = report["ticket"].as_u64().unwrap_or(u64::MAX);

    let deadline = Instant::now() + Duration::from_secs(30);
    let row = loop {
        let (status, body) = post_sql(addr, "SELECT count, min, max FROM sensor_stats WHERE sensor_id = 1").await?;
        anyhow::ensure!(status == 200, "{body}");
        if body["as_of"].as_u64().unwrap_or(0) >= ticket {
            break body["rows"][0].clone();
        }
        anyhow::ensure!(Instant::now() < deadline, "as_of never reached the ticket {ticket}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(row, serde_json::json!([2, 20.0, 22.0]));

    let dlq = std::fs::read_to_string(data.path().join("dlq").join("readings.ndjson"))?;
    let letters: Vec<serde_json::Value> = dlq.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(letters.len(), 1, "{dlq}");
    assert_eq!(letters[0]["kind"], "invalid_fields");
    assert_eq!(letters[0]["raw"], r#"{"sensor_id": "one", "ts": 3000, "value": 1.0}"#);
    assert_eq!(
        letters[0]["position"],
        serde_json::json!({"kind": "http", "request": 0, "line": 3})
    );
    Ok(())
}

#[test]
fn demo_refuses_to_serve_unauthenticated_beyond_loopback() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["demo", "--listen", "0.0.0.0:0", "--source", "http", "--data"])
        .arg(data.path())
        .env_remove("TRIBUTARY_JWT_SECRET")
        .env_remove("TRIBUTARY_JWT_PUBLIC_KEY_FILE")
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve without authentication on 0.0.0.0:0"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_a_jwt_secret_needs_tokens_and_never_logs_the_secret() -> anyhow::Result<()> {
    use crate::http_auth::{SECRET, claims, hs256};
    let data = tempfile::tempdir()?;
    let addr = free_addr()?;
    let log = data.path().join("stderr.log");
    let mut demo = Demo(
        Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args([
                "demo",
                "--listen",
                &addr.to_string(),
                "--workers",
                "2",
                "--source",
                "http",
                "--data",
            ])
            .arg(data.path())
            .env("TRIBUTARY_JWT_SECRET", SECRET)
            .env("RUST_LOG", "trace")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?,
    );
    let token = hs256(SECRET, &claims("alice", "read ingest"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(answer) = crate::common::call(addr, "GET", "/healthz", None, None).await
            && answer.status == 200
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "demo did not serve within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = || Some(("application/json", br#"{"sql": "SELECT 1"}"#.to_vec()));
    let anonymous = crate::common::call(addr, "POST", "/v1/sql", None, body()).await?;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let bearer = format!("Bearer {token}");
    let authorized = crate::common::call(addr, "POST", "/v1/sql", Some(&bearer), body()).await?;
    assert_eq!(authorized.status, 200, "{}", authorized.text);
    let ingest = crate::common::call(
        addr,
        "POST",
        "/v1/ingest/readings",
        Some(&bearer),
        Some((
            "application/x-ndjson",
            br#"{"sensor_id": 1, "ts": 1767225600000, "value": 1.5}"#.to_vec(),
        )),
    )
    .await?;
    assert_eq!(ingest.status, 200, "{}", ingest.text);
    let _ = demo.0.kill();
    let _ = demo.0.wait();

    let stderr = std::fs::read_to_string(&log)?;
    assert!(stderr.contains("JWT authentication on"), "{stderr}");
    assert!(!stderr.contains(SECRET), "the secret is in the demo's log");
    assert!(!stderr.contains(&token), "a token is in the demo's log");
    let audit = std::fs::read_to_string(data.path().join("audit").join("audit.ndjson"))?;
    assert!(audit.contains("\"who\":\"alice\""), "{audit}");
    Ok(())
}
