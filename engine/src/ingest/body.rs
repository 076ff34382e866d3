//! Splitting an ingest body into records: one JSON object, a JSON array of objects, or
//! NDJSON (one object per line).

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::record::DecodeError;

/// One record of a body: its 1-based line (NDJSON) or element (array) number and its bytes.
pub type BodyRecord<'a> = (usize, &'a [u8]);

/// Splits `body` into records.
///
/// A body that is one JSON value is one record, or one record per element when it is an
/// array (a malformed array is one bad record: its elements cannot be told apart). Anything
/// else is read as NDJSON: every non-blank line is a record, so a bad line never hides the
/// good ones around it.
pub fn split_body(body: &[u8]) -> Vec<BodyRecord<'_>> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Vec::new();
    }
    if trimmed.first() == Some(&b'[') {
        return match serde_json::from_slice::<Vec<&RawValue>>(trimmed) {
            Ok(elements) => elements
                .into_iter()
                .enumerate()
                .map(|(i, raw)| (i + 1, raw.get().as_bytes()))
                .collect(),
            Err(_) => vec![(1, trimmed)],
        };
    }
    if serde_json::from_slice::<IgnoredAny>(trimmed).is_ok() {
        return vec![(1, trimmed)];
    }
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_ascii()))
        .filter(|(_, line)| !line.is_empty())
        .collect()
}

/// The error for a whole array that is not valid JSON, so its one record names the problem.
pub(crate) fn array_error(raw: &[u8]) -> Option<DecodeError> {
    if raw.first() != Some(&b'[') {
        return None;
    }
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text,
        Err(e) => {
            return Some(DecodeError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            });
        }
    };
    serde_json::from_str::<Vec<&RawValue>>(text)
        .err()
        .map(|e| DecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(body: &str) -> Vec<(usize, String)> {
        split_body(body.as_bytes())
            .into_iter()
            .map(|(n, b)| (n, String::from_utf8_lossy(b).into_owned()))
            .collect()
    }

    #[test]
    fn object_array_and_ndjson() {
        assert_eq!(lines(" {\"a\":\n 1}\n"), [(1, "{\"a\":\n 1}".to_string())]);
        assert_eq!(
            lines(r#"[{"a":1}, {"a":"x"}, 3]"#),
            [(1, r#"{"a":1}"#.into()), (2, r#"{"a":"x"}"#.into()), (3, "3".into())]
        );
        assert_eq!(
            lines("{\"a\":1}\n\n{oops\r\n{\"a\":2}\n"),
            [(1, "{\"a\":1}".into()), (3, "{oops".into()), (4, "{\"a\":2}".into())]
        );
        assert!(lines("  \n").is_empty());
    }

    #[test]
    fn a_malformed_array_is_one_record_with_its_reason() {
        let records = split_body(b"[{\"a\":1},");
        assert_eq!(records.len(), 1);
        assert!(matches!(array_error(records[0].1), Some(DecodeError::Malformed(_))));
        assert!(array_error(b"{\"a\":1}").is_none());
    }
}
