//! What the aggregate knows of a conversation's metadata (the chatbot
//! seed's `update-conversation-metadata`): enough to hold the merged object
//! to its limits, and nothing more.
//!
//! An update merges its keys into the conversation's metadata, a key set to
//! null removing it. Merged, the metadata may hold at most
//! [`MAX_METADATA_KEYS`] keys and [`MAX_METADATA_BYTES`] of compact JSON;
//! an update that would take it past either is refused, unless it does not
//! grow what is past (metadata recorded before the limits may shrink).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The most keys a conversation's merged metadata holds.
pub const MAX_METADATA_KEYS: usize = 100;

/// The largest a conversation's merged metadata is, as compact JSON
/// (`{"key":value,…}`): 64 KiB.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Per key of the merged metadata, the size of its member `"key":value` as
/// compact JSON: the sizes and keys, never the values, so the aggregate
/// stays small (at most the limit's worth of keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MetadataSizes(BTreeMap<String, u32>);

impl MetadataSizes {
    pub fn keys(&self) -> usize {
        self.0.len()
    }

    /// The merged object's size as compact JSON: braces, members, commas.
    pub fn bytes(&self) -> usize {
        let members: usize = self.0.values().map(|&n| n as usize).sum();
        2 + members + self.0.len().saturating_sub(1)
    }

    /// The sizes after merging `changes` (a JSON object).
    pub fn merged(&self, changes: &Map<String, Value>) -> Self {
        let mut after = self.clone();
        after.merge(changes);
        after
    }

    /// Merge `changes`; anything but an object changes nothing (events
    /// carry objects; this never fails, as `apply` must not).
    pub fn apply(&mut self, changes: &Value) {
        if let Value::Object(changes) = changes {
            self.merge(changes);
        }
    }

    fn merge(&mut self, changes: &Map<String, Value>) {
        for (key, value) in changes {
            if value.is_null() {
                self.0.remove(key);
            } else {
                let size = json_len(&Value::String(key.clone())) + 1 + json_len(value);
                self.0
                    .insert(key.clone(), u32::try_from(size).unwrap_or(u32::MAX));
            }
        }
    }
}

fn json_len(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |s| s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sizes_of(changes: Value) -> MetadataSizes {
        let mut sizes = MetadataSizes::default();
        sizes.apply(&changes);
        sizes
    }

    #[test]
    fn the_size_is_that_of_the_merged_object_as_compact_json() {
        for merged in [
            json!({}),
            json!({ "plan": "pro" }),
            json!({ "plan": "pro", "seats": 3, "tags": ["a", "b"], "nested": { "k": null } }),
            json!({ "quote\"key": "é😀\n", "n": -1.5e300 }),
        ] {
            let sizes = sizes_of(merged.clone());
            assert_eq!(sizes.bytes(), serde_json::to_string(&merged).unwrap().len());
            assert_eq!(sizes.keys(), merged.as_object().unwrap().len());
        }
    }

    #[test]
    fn merging_replaces_a_key_and_null_removes_it() {
        let mut sizes = sizes_of(json!({ "plan": "pro", "topic": "billing" }));
        sizes.apply(&json!({ "plan": null, "topic": "b", "seats": 3 }));
        let expected = json!({ "topic": "b", "seats": 3 });
        assert_eq!(sizes, sizes_of(expected.clone()));
        assert_eq!(sizes.bytes(), expected.to_string().len());
        let before = sizes.clone();
        let after = sizes.merged(json!({ "missing": null }).as_object().unwrap());
        assert_eq!(after, before, "removing a key that is not there");
        sizes.apply(&json!("not an object"));
        assert_eq!(sizes, before);
    }
}
