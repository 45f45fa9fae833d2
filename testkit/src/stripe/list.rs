//! `GET /v1/events`: newest first, filtered by `created[gte|gt|lte|lt]` (or an exact `created`),
//! `type` (with a trailing `*` wildcard) or `types[]`, paged with `limit` (default 10, 1–100) and
//! `starting_after`.

use serde_json::{Value, json};

use super::error::StripeFailure;

/// Default and largest page.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;
/// Stripe accepts at most this many `types[]`.
const MAX_TYPES: usize = 20;

#[derive(Debug, Default)]
struct Filter {
    created: Vec<(String, i64)>,
    types: Vec<String>,
    kind: Option<String>,
    limit: Option<usize>,
    starting_after: Option<String>,
}

impl Filter {
    fn parse(query: &[(String, String)]) -> Result<Self, StripeFailure> {
        let mut filter = Self::default();
        for (key, value) in query {
            let int = || {
                value
                    .parse::<i64>()
                    .map_err(|_| StripeFailure::invalid(key, format!("Invalid integer: {value}")))
            };
            match key.as_str() {
                "created" | "created[gte]" | "created[gt]" | "created[lte]" | "created[lt]" => {
                    filter.created.push((key.clone(), int()?));
                }
                "limit" => {
                    let limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n));
                    filter.limit = Some(limit.ok_or_else(|| {
                        StripeFailure::invalid(key, "This value must be greater than or equal to 1 and less than or equal to 100.")
                    })?);
                }
                "starting_after" => filter.starting_after = Some(value.clone()),
                "type" => filter.kind = Some(value.clone()),
                key if key == "types[]" || (key.starts_with("types[") && key.ends_with(']')) => {
                    if filter.types.len() == MAX_TYPES {
                        return Err(StripeFailure::invalid(
                            "types",
                            "You may pass at most 20 types.",
                        ));
                    }
                    filter.types.push(value.clone());
                }
                other => {
                    return Err(StripeFailure::invalid(
                        other,
                        format!("Received unknown parameter: {other}"),
                    ));
                }
            }
        }
        if filter.kind.is_some() && !filter.types.is_empty() {
            return Err(StripeFailure::invalid(
                "types",
                "You may only specify one of these parameters: type, types.",
            ));
        }
        Ok(filter)
    }

    fn accepts(&self, event: &Value) -> bool {
        let created = event["created"].as_i64().unwrap_or_default();
        let kind = event["type"].as_str().unwrap_or_default();
        let times = self.created.iter().all(|(op, bound)| match op.as_str() {
            "created[gte]" => created >= *bound,
            "created[gt]" => created > *bound,
            "created[lte]" => created <= *bound,
            "created[lt]" => created < *bound,
            _ => created == *bound,
        });
        let named = match &self.kind {
            Some(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => kind.starts_with(prefix),
                None => kind == pattern,
            },
            None => self.types.is_empty() || self.types.iter().any(|t| t == kind),
        };
        times && named
    }
}

/// One page of `events` (oldest first) for `query`.
pub(super) fn events(events: &[Value], query: &[(String, String)]) -> Result<Value, StripeFailure> {
    let filter = Filter::parse(query)?;
    let newest_first = events.iter().rev();
    let skip = match &filter.starting_after {
        Some(after) => {
            let at = events
                .iter()
                .rev()
                .position(|e| e["id"] == after.as_str())
                .ok_or_else(|| StripeFailure::no_such(400, "event", after, "starting_after"))?;
            at + 1
        }
        None => 0,
    };
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    let mut matching = newest_first.skip(skip).filter(|e| filter.accepts(e));
    let data: Vec<Value> = matching.by_ref().take(limit).cloned().collect();
    let has_more = matching.next().is_some();
    Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/events"}))
}
