//! Input a hostile client might send, as proptest strategies for the property tests of every wire
//! parser: any characters (controls, format and bidi characters, NUL), overlong runs, and any
//! JSON shape.

use proptest::prelude::*;
use serde_json::{Value, json};

/// Text: any characters, a run of controls and format characters, or one- and two-byte
/// characters repeated past every limit the specs set.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,64}",
        "[\\x00-\\x1f\\x7f-\\u{9f}\\u{200b}-\\u{200f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}\\u{feff}]{0,32}",
        (0usize..6000).prop_map(|n| "x".repeat(n)),
        (0usize..3000).prop_map(|n| "é".repeat(n)),
    ]
}

/// Any JSON value, nested at most two deep, with [`text`] among its strings and extreme numbers.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 40, 25, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..25).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
