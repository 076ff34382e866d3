//! The `posts` stream's record and the rows of the feed projections.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// What happened to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PostOp {
    /// The post was published.
    Created,
    /// Its text was edited.
    Updated,
    /// It was deleted. Deletion is final: no later (or late) change brings it back.
    Deleted,
}

impl PostOp {
    /// The wire name: `created`, `updated` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }
}

impl fmt::Display for PostOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// A plain string on the wire and in Arrow (history, SQL): serde's derived enum would become
// an Arrow union, which Parquet history cannot store.
impl Serialize for PostOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PostOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_arrow's schema tracer (behind `derive_arrow_fields`) hands every string field
        // an empty sample; for it the field is what it stores, a string.
        let tracing = std::any::type_name::<D>().starts_with("serde_arrow::");
        let text = String::deserialize(d)?;
        match text.as_str() {
            "created" => Ok(Self::Created),
            "updated" => Ok(Self::Updated),
            "deleted" => Ok(Self::Deleted),
            "" if tracing => Ok(Self::Created),
            other => Err(de::Error::custom(format!(
                "unknown op {other:?}: expected \"created\", \"updated\" or \"deleted\""
            ))),
        }
    }
}

/// One event of the `post_events` stream:
/// `post_events(op VARCHAR, post_id BIGINT, user_id BIGINT, ts TIMESTAMP, created_at TIMESTAMP, text VARCHAR)`.
///
/// Like a change-data-capture record, every event carries the post's whole image after the
/// change (a delete: the image it deleted), so a consumer never has to look anything up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostEvent {
    /// What happened.
    pub op: PostOp,
    /// The post.
    pub post_id: i64,
    /// Its author.
    pub user_id: i64,
    /// Event time of this change, epoch milliseconds (JSON may also give RFC 3339).
    #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
    pub ts: i64,
    /// When the post was published: the feeds' order, epoch milliseconds (or RFC 3339).
    #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
    pub created_at: i64,
    /// The post's text after the change (default: empty).
    #[serde(default)]
    pub text: String,
}

/// One row of `posts`, `feed_global` and `feed_user`: a post's current image.
///
/// Field order is the tie-break order of the feeds (derived `Ord`): two posts published in
/// the same millisecond rank by `post_id`, the greater first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Post {
    /// The post.
    pub post_id: i64,
    /// Its author.
    pub user_id: i64,
    /// When it was published (SQL: `TIMESTAMP`).
    pub created_at: i64,
    /// Event time of the change that gave it this image (SQL: `TIMESTAMP`).
    pub updated_at: i64,
    /// Its current text.
    pub text: String,
}

impl PostEvent {
    /// The post's image after this change, or `None` for a delete.
    pub fn image(&self) -> Option<Post> {
        (self.op != PostOp::Deleted).then(|| Post {
            post_id: self.post_id,
            user_id: self.user_id,
            created_at: self.created_at,
            updated_at: self.ts,
            text: self.text.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip_as_strings_and_unknown_ones_are_refused_by_name() {
        let json = r#"{"op":"deleted","post_id":1,"user_id":2,"ts":"2023-11-14T22:13:20Z","created_at":5}"#;
        let event: PostEvent = serde_json::from_str(json).expect("valid");
        assert_eq!(event.op, PostOp::Deleted);
        assert_eq!((event.ts, event.text.as_str()), (1_700_000_000_000, ""));
        assert_eq!(event.image(), None);
        let back = serde_json::to_value(&event).expect("serialises");
        assert_eq!(back["op"], "deleted");
        let bad = json.replace("deleted", "archived");
        let err = serde_json::from_str::<PostEvent>(&bad).expect_err("unknown op");
        assert!(err.to_string().contains("unknown op \"archived\""), "{err}");
    }

    #[test]
    fn the_history_schema_stores_the_op_as_a_string() {
        let fields =
            tributary_engine::record::derive_arrow_fields::<PostEvent>(&["ts", "created_at"]).expect("derives");
        let op = fields.iter().find(|f| f.name() == "op").expect("op column");
        assert!(op.data_type().to_string().ends_with("Utf8"), "{}", op.data_type());
    }
}
