//! Topic patterns: which record fields a topic carries (source) and which topic a record goes
//! to (sink).
//!
//! Devices often put their identity in the topic rather than the payload
//! (`sensors/17/reading` carries `{"ts": …, "value": …}`). A [`TopicPattern`] such as
//! `sensors/{sensor_id}/reading` names those levels; the source adds each named level to the
//! record when the payload lacks the field, as a number when the level is one. A topic that
//! does not match the pattern adds nothing — the decoder then reports the missing field.
//!
//! A [`TopicTemplate`] is the sink's mirror image: `alerts/{sensor_id}` is filled from the
//! record's fields.

use serde_json::{Map, Value};
use tributary_engine::record::MetadataValue;

use super::MqttError;

/// One level of a [`TopicPattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternLevel {
    /// Must equal the topic level exactly.
    Literal(String),
    /// `+`: any single level, not captured.
    Any,
    /// `{field}`: any single level, captured as `field`.
    Field(String),
}

/// A topic pattern with `{field}` levels, e.g. `sensors/{sensor_id}/reading`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    levels: Vec<PatternLevel>,
}

impl TopicPattern {
    /// Parses a pattern: levels separated by `/`, each a literal, `+`, or `{field}`.
    pub fn parse(pattern: &str) -> Result<Self, MqttError> {
        let invalid = |reason: &str| MqttError::InvalidPattern {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        if pattern.is_empty() {
            return Err(invalid("it is empty"));
        }
        let mut levels = Vec::new();
        for level in pattern.split('/') {
            levels.push(match parse_field(level) {
                Some(Ok(field)) => {
                    if levels.contains(&PatternLevel::Field(field.to_string())) {
                        return Err(invalid(&format!("field `{field}` appears twice")));
                    }
                    PatternLevel::Field(field.to_string())
                }
                Some(Err(reason)) => return Err(invalid(reason)),
                None if level == "+" => PatternLevel::Any,
                None if level.contains(['+', '#']) => {
                    return Err(invalid("`+` must be a whole level and `#` is not supported"));
                }
                None => PatternLevel::Literal(level.to_string()),
            });
        }
        if !levels.iter().any(|l| matches!(l, PatternLevel::Field(_))) {
            return Err(invalid("it names no `{field}` level"));
        }
        Ok(Self { levels })
    }

    /// The fields `topic` carries, or `None` when the topic does not match the pattern.
    pub fn extract(&self, topic: &str) -> Option<Vec<(&str, MetadataValue)>> {
        let mut fields = Vec::new();
        let mut topic_levels = topic.split('/');
        for level in &self.levels {
            let actual = topic_levels.next()?;
            match level {
                PatternLevel::Literal(expected) if expected != actual => return None,
                PatternLevel::Literal(_) | PatternLevel::Any => {}
                PatternLevel::Field(field) => {
                    fields.push((field.as_str(), MetadataValue::from_topic_level(actual)));
                }
            }
        }
        topic_levels.next().is_none().then_some(fields)
    }
}

/// `Some(Ok(name))` for `{name}`, `Some(Err(_))` for a malformed brace level, `None` for a
/// level without braces.
fn parse_field(level: &str) -> Option<Result<&str, &'static str>> {
    if !level.contains(['{', '}']) {
        return None;
    }
    let name = level.strip_prefix('{').and_then(|l| l.strip_suffix('}'));
    Some(match name {
        Some("") => Err("`{}` names no field"),
        Some(name) if name.contains(['{', '}']) => Err("a `{field}` level has nested braces"),
        Some(name) => Ok(name),
        None => Err("a `{field}` must be a whole level"),
    })
}

/// One piece of a [`TopicTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    /// Copied as is.
    Text(String),
    /// Replaced by the record's field.
    Field(String),
}

/// The sink's topic template, e.g. `alerts/{sensor_id}` (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    template: String,
    parts: Vec<TemplatePart>,
}

impl TopicTemplate {
    /// Parses a template; `{field}` may appear anywhere inside a level.
    pub fn parse(template: &str) -> Result<Self, MqttError> {
        let invalid = |reason: &str| MqttError::InvalidPattern {
            pattern: template.to_string(),
            reason: reason.to_string(),
        };
        if template.is_empty() {
            return Err(invalid("it is empty"));
        }
        if template.contains(['+', '#']) {
            return Err(invalid("a topic to publish to cannot contain `+` or `#`"));
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(invalid("`}` without `{`"));
            }
            let close = rest[open..].find('}').ok_or_else(|| invalid("`{` without `}`"))? + open;
            let field = &rest[open + 1..close];
            if field.is_empty() || field.contains(['{', '/']) {
                return Err(invalid("a `{field}` must name a field"));
            }
            if open > 0 {
                parts.push(TemplatePart::Text(rest[..open].to_string()));
            }
            parts.push(TemplatePart::Field(field.to_string()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_string()));
        }
        Ok(Self {
            template: template.to_string(),
            parts,
        })
    }

    /// Whether the template names any field (else every record goes to one topic).
    pub fn has_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, TemplatePart::Field(_)))
    }

    /// The topic for a record serialised as `record`.
    pub fn render(&self, record: &Map<String, Value>) -> Result<String, MqttError> {
        let mut topic = String::with_capacity(self.template.len() + 16);
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => topic.push_str(text),
                TemplatePart::Field(field) => topic.push_str(&self.level(record, field)?),
            }
        }
        Ok(topic)
    }

    fn level(&self, record: &Map<String, Value>, field: &str) -> Result<String, MqttError> {
        let value = record.get(field).ok_or_else(|| MqttError::MissingTopicField {
            field: field.to_string(),
            template: self.template.clone(),
        })?;
        let level = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => return Err(not_scalar(field, "null")),
            Value::Array(_) => return Err(not_scalar(field, "an array")),
            Value::Object(_) => return Err(not_scalar(field, "an object")),
        };
        if level.is_empty() || level.contains(['/', '+', '#']) {
            return Err(MqttError::InvalidTopicLevel {
                field: field.to_string(),
                value: level,
            });
        }
        Ok(level)
    }
}

fn not_scalar(field: &str, kind: &'static str) -> MqttError {
    MqttError::TopicFieldNotScalar {
        field: field.to_string(),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn extracts_named_levels_as_numbers_or_strings() -> Result<(), MqttError> {
        let p = TopicPattern::parse("sensors/{sensor_id}/reading")?;
        assert_eq!(
            p.extract("sensors/17/reading"),
            Some(vec![("sensor_id", MetadataValue::Int(17))])
        );
        assert_eq!(
            p.extract("sensors/kitchen/reading"),
            Some(vec![("sensor_id", MetadataValue::Str("kitchen".into()))])
        );
        let p = TopicPattern::parse("site/{site}/+/{sensor_id}")?;
        assert_eq!(
            p.extract("site/berlin/temp/-3"),
            Some(vec![
                ("site", MetadataValue::Str("berlin".into())),
                ("sensor_id", MetadataValue::Int(-3))
            ])
        );
        Ok(())
    }

    #[test]
    fn a_topic_that_does_not_match_adds_nothing() -> Result<(), MqttError> {
        let p = TopicPattern::parse("sensors/{sensor_id}/reading")?;
        assert_eq!(p.extract("sensors/17/status"), None, "literal differs");
        assert_eq!(p.extract("sensors/17"), None, "too short");
        assert_eq!(p.extract("sensors/17/reading/extra"), None, "too long");
        assert_eq!(p.extract("other/17/reading"), None);
        Ok(())
    }

    #[test]
    fn rejects_malformed_patterns() {
        for bad in [
            "",
            "sensors/reading",
            "sensors/{}/reading",
            "sensors/x{id}/reading",
            "sensors/{id/reading",
            "sensors/{id}/{id}",
            "sensors/#",
            "sensors/a+/{id}",
        ] {
            assert!(
                matches!(TopicPattern::parse(bad), Err(MqttError::InvalidPattern { .. })),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn renders_templates_from_record_fields() -> Result<(), MqttError> {
        let t = TopicTemplate::parse("alerts/{sensor_id}/{level}-x")?;
        assert!(t.has_fields());
        let record = json!({"sensor_id": 17, "level": "high", "value": 1.5});
        let object = record.as_object().cloned().unwrap_or_default();
        assert_eq!(t.render(&object)?, "alerts/17/high-x");
        let fixed = TopicTemplate::parse("alerts/all")?;
        assert!(!fixed.has_fields());
        assert_eq!(fixed.render(&Map::new())?, "alerts/all");
        Ok(())
    }

    #[test]
    fn refuses_records_that_cannot_fill_the_template() -> Result<(), MqttError> {
        let t = TopicTemplate::parse("alerts/{sensor_id}")?;
        let cases = [
            (json!({"value": 1}), "no field `sensor_id`"),
            (json!({"sensor_id": null}), "is null"),
            (json!({"sensor_id": [1]}), "is an array"),
            (json!({"sensor_id": "a/b"}), "cannot be a topic level"),
            (json!({"sensor_id": ""}), "cannot be a topic level"),
        ];
        for (record, expected) in cases {
            let object = record.as_object().cloned().unwrap_or_default();
            let err = t
                .render(&object)
                .map(|_| ())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{record}: {err}");
        }
        for bad in ["", "alerts/+", "alerts/#", "alerts/{}", "alerts/{id", "alerts/id}"] {
            assert!(TopicTemplate::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        Ok(())
    }
}
