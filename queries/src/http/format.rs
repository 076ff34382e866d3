//! Result formats of `POST /v1/sql`, chosen by the `Accept` header.
//!
//! | `Accept` | body |
//! |---|---|
//! | absent, `*/*`, `application/*`, `application/json` | `{"columns", "rows", "as_of", "truncated"}` |
//! | `application/x-ndjson` (or `application/ndjson`) | one JSON object per row, `{column: value}` |
//! | `text/csv` (or `text/*`) | CSV with a header line |
//! | `application/vnd.apache.arrow.stream` | Arrow IPC stream |
//!
//! The first listed type we serve wins (ranges with `q=0` are skipped); nothing servable is
//! `406`. Every format carries `tributary-as-of` and `tributary-truncated` headers, the only
//! place the streaming formats can say them. Errors are always JSON.

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::ApiError;
use super::json::{encode_result, json_value};
use crate::QueryResult;

/// Header naming the frontier the answer reflects.
pub const AS_OF_HEADER: HeaderName = HeaderName::from_static("tributary-as-of");
/// Header saying whether rows were cut at the default row limit.
pub const TRUNCATED_HEADER: HeaderName = HeaderName::from_static("tributary-truncated");

/// A result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/x-ndjson`.
    Ndjson,
    /// `text/csv`.
    Csv,
    /// `application/vnd.apache.arrow.stream`.
    ArrowStream,
}

impl Format {
    /// The format a request's `Accept` header asks for; `None` if none is served.
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(ACCEPT) else {
            return Some(Self::Json);
        };
        let accept = accept.to_str().unwrap_or_default();
        if accept.trim().is_empty() {
            return Some(Self::Json);
        }
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?.to_ascii_lowercase();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused { None } else { Self::of_media(&media) }
            })
            .next()
    }

    /// The `406` answer to a request whose `Accept` names no format we serve.
    pub fn not_acceptable(headers: &HeaderMap) -> ApiError {
        let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "cannot answer Accept: {accept}; use application/json, application/x-ndjson, text/csv \
                 or application/vnd.apache.arrow.stream"
            ),
        )
    }

    fn of_media(media: &str) -> Option<Self> {
        Some(match media {
            "*/*" | "application/*" | "application/json" => Self::Json,
            "application/x-ndjson" | "application/ndjson" => Self::Ndjson,
            "text/*" | "text/csv" => Self::Csv,
            "application/vnd.apache.arrow.stream" => Self::ArrowStream,
            _ => return None,
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
            Self::ArrowStream => "application/vnd.apache.arrow.stream",
        }
    }

    /// The HTTP answer of `result` in this format (`500` if it cannot be encoded).
    pub fn respond(self, result: &QueryResult) -> Response {
        let encoded = match self {
            Self::Json => encode_result(result).and_then(|json| serde_json::to_vec(&json).map_err(internal)),
            Self::Ndjson => ndjson(result),
            Self::Csv => csv(result),
            Self::ArrowStream => arrow_stream(result),
        };
        let body = match encoded {
            Ok(body) => body,
            Err(e) => {
                let message = format!("cannot encode the result: {e}");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
            }
        };
        let headers = [
            (CONTENT_TYPE, HeaderValue::from_static(self.content_type())),
            (AS_OF_HEADER, HeaderValue::from(result.as_of)),
            (
                TRUNCATED_HEADER,
                HeaderValue::from_static(if result.truncated { "true" } else { "false" }),
            ),
        ];
        (headers, body).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn ndjson(result: &QueryResult) -> Result<Vec<u8>, String> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("");
    let names: Vec<&String> = result.schema.fields().iter().map(|f| f.name()).collect();
    let mut out = Vec::new();
    for batch in &result.batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        for row in 0..batch.num_rows() {
            let object: Map<String, Value> = names
                .iter()
                .zip(batch.columns().iter().zip(&formatters))
                .map(|(name, (column, formatter))| ((*name).clone(), json_value(column.as_ref(), row, formatter)))
                .collect();
            serde_json::to_writer(&mut out, &object).map_err(internal)?;
            out.push(b'\n');
        }
    }
    Ok(out)
}

fn csv(result: &QueryResult) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    // The writer writes the header with the first batch; an empty result still has one.
    let empty = arrow::record_batch::RecordBatch::new_empty(result.schema.clone());
    let batches = if result.batches.is_empty() {
        std::slice::from_ref(&empty)
    } else {
        result.batches.as_slice()
    };
    let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
    for batch in batches {
        writer.write(batch).map_err(internal)?;
    }
    drop(writer);
    Ok(out)
}

fn arrow_stream(result: &QueryResult) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &result.schema).map_err(internal)?;
    for batch in &result.batches {
        writer.write(batch).map_err(internal)?;
    }
    writer.finish().map_err(internal)?;
    drop(writer);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Format> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).ok()?);
        Format::negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_first_served_type() {
        assert_eq!(Format::negotiate(&HeaderMap::new()), Some(Format::Json));
        assert_eq!(accept("*/*"), Some(Format::Json));
        assert_eq!(accept("text/csv"), Some(Format::Csv));
        assert_eq!(accept("application/x-ndjson"), Some(Format::Ndjson));
        assert_eq!(accept("application/vnd.apache.arrow.stream"), Some(Format::ArrowStream));
        assert_eq!(accept("image/png, text/csv;q=0.5"), Some(Format::Csv));
        assert_eq!(accept("text/csv;q=0, application/json"), Some(Format::Json));
        assert_eq!(accept("image/png"), None);
        assert_eq!(accept("text/csv;q=0"), None);
    }
}
