//! `tributary verify`: recomputes the IoT projections from history and compares them with a
//! batch recomputation in DataFusion and, with `--server`, with what a server serves; prints
//! every differing row and exits non-zero on a mismatch.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;
use tributary::queries::http::{JsonResult, SqlRequest, encode_result};
use tributary::queries::{HistorySources, SqlEngine};

use crate::replay::{history_dir, replay_history};
use crate::table::render_table;

/// Arguments of `tributary verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Data directory of a `tributary demo` run; its history is `DIR/history`.
    #[arg(long, required_unless_present = "history")]
    data: Option<PathBuf>,
    /// A history directory to verify instead of `DIR/history`.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Worker threads for the replay. Default: as many as wrote the history.
    #[arg(long)]
    workers: Option<usize>,
    /// Also compare the replayed projections with the ones this server serves (base URL,
    /// e.g. `http://127.0.0.1:8080`); meaningful once its source is quiet and its history
    /// committed (a second after the last record).
    #[arg(long)]
    server: Option<String>,
    /// Bearer token (a JWT with the `read` scope) for `--server`.
    #[arg(long, env = "TRIBUTARY_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// The `sensor_stats` rows whose replayed values differ from a plain `GROUP BY` over
/// `history.readings` (sums: the projection's are exact fixed point, DataFusion's are
/// floating point, so they agree to rounding).
const BATCH_DIFF: &str = "
SELECT coalesce(s.sensor_id, h.sensor_id) AS sensor_id,
       s.count AS replayed_count, h.n AS batch_count,
       s.min AS replayed_min, h.mn AS batch_min, s.max AS replayed_max, h.mx AS batch_max,
       s.sum AS replayed_sum, h.total AS batch_sum
FROM sensor_stats s
FULL OUTER JOIN (SELECT sensor_id, count(*) AS n, min(value) AS mn, max(value) AS mx, sum(value) AS total
                 FROM history.readings GROUP BY sensor_id) h
  ON s.sensor_id = h.sensor_id
WHERE s.sensor_id IS NULL OR h.sensor_id IS NULL OR s.count <> h.n OR s.min <> h.mn OR s.max <> h.mx
   OR abs(s.sum - h.total) > 1e-9 * abs(h.total) + 1e-6
ORDER BY 1";

/// The projections compared with a server, with a total order for their rows.
const SERVED: [(&str, &str); 2] = [("sensor_stats", "sensor_id"), ("anomalies", "sensor_id, ts")];

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let dir = history_dir(args.data.as_deref(), args.history.as_deref())?;
    let catalog = replay_history(&dir, args.workers, None)?;
    let engine = SqlEngine::new(catalog).with_history(HistorySources::new(&dir));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let query = |sql: &str| -> anyhow::Result<JsonResult> {
        let result = runtime.block_on(engine.execute(sql))?;
        encode_result(&result).map_err(|e| anyhow::anyhow!("cannot encode the result: {e}"))
    };
    let mut mismatches = 0;
    let diff = query(BATCH_DIFF)?;
    if !diff.rows.is_empty() {
        println!("sensor_stats: replay and batch SQL over history.readings differ:");
        print!("{}", render_table(&diff));
        mismatches += diff.rows.len();
    }
    if let Some(server) = &args.server {
        for (name, order) in SERVED {
            let sql = format!("SELECT * FROM {name} ORDER BY {order}");
            let replayed = query(&sql)?;
            let served = runtime.block_on(fetch(server, args.token.as_deref(), &sql))?;
            let only_served: Vec<&Vec<Value>> = served.rows.iter().filter(|r| !replayed.rows.contains(r)).collect();
            let only_replayed: Vec<&Vec<Value>> = replayed.rows.iter().filter(|r| !served.rows.contains(r)).collect();
            for (what, rows) in [("served only", &only_served), ("replayed only", &only_replayed)] {
                if rows.is_empty() {
                    continue;
                }
                let shown = JsonResult {
                    rows: rows.iter().map(|r| (*r).clone()).collect(),
                    ..served.clone()
                };
                println!("{name}: {} rows {what} (server as_of {}):", rows.len(), served.as_of);
                print!("{}", render_table(&shown));
                mismatches += rows.len();
            }
        }
    }
    anyhow::ensure!(mismatches == 0, "{mismatches} rows differ");
    println!("verified: the projections recomputed from {} match", dir.display());
    Ok(())
}

/// Runs `sql` on the server at `base`.
async fn fetch(base: &str, token: Option<&str>, sql: &str) -> anyhow::Result<JsonResult> {
    let url = format!("{}/v1/sql", base.trim_end_matches('/'));
    let mut request = reqwest::Client::new().post(&url).json(&SqlRequest {
        sql: sql.to_string(),
        ..SqlRequest::default()
    });
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("the server did not answer JSON")?;
    anyhow::ensure!(status.is_success(), "{url}: {status}: {body}");
    serde_json::from_value(body).context("unexpected response shape")
}
