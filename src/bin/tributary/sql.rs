//! `tributary sql`: one query against a running server, printed as a table.

use anyhow::{Context, bail};
use serde_json::Value;
use tributary::queries::http::{JsonResult, SqlRequest};

use crate::table::render_table;

/// Arguments of `tributary sql`.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// The SQL statement.
    query: String,
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Bearer token (a JWT with the `read` scope) for a server with authentication on.
    #[arg(long, env = "TRIBUTARY_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn run(args: SqlArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = format!("{}/v1/sql", args.server.trim_end_matches('/'));
    let (status, body) = runtime.block_on(async {
        let mut request = reqwest::Client::new().post(&url).json(&SqlRequest {
            sql: args.query.clone(),
            ..SqlRequest::default()
        });
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let body: Value = response.json().await.context("the server did not answer JSON")?;
        anyhow::Ok((status, body))
    })?;
    if !status.is_success() {
        let message = body.get("error").and_then(Value::as_str).unwrap_or("unknown error");
        bail!("{status}: {message}");
    }
    let result: JsonResult = serde_json::from_value(body).context("unexpected response shape")?;
    print!("{}", render_table(&result));
    println!("({} rows, as_of {})", result.rows.len(), result.as_of);
    Ok(())
}
