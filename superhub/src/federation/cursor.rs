//! Change-feed cursors (superhub.md §7.1 rule 2): `c1.<change seq>`, the position after the last
//! change a page scanned. The version prefix lets the format change without misreading old ones.

/// The prefix of every cursor this version makes.
const PREFIX: &str = "c1.";

/// Longest accepted cursor: the prefix and the 19 digits of an `i64`.
const MAX_LEN: usize = PREFIX.len() + 19;

/// A position in the change feed: every change with a higher `seq` is after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCursor(pub i64);

/// A `since` that is not a cursor made by [`FeedCursor::encode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("since must be a cursor like c1.1234 from a previous page")]
pub struct BadCursor;

impl FeedCursor {
    /// The beginning of the feed.
    pub const START: Self = Self(0);

    /// The text handed to clients.
    pub fn encode(self) -> String {
        format!("{PREFIX}{}", self.0)
    }

    /// Reads a cursor: `c1.` then decimal digits only (no sign, no spaces), fitting an `i64`.
    ///
    /// # Errors
    /// [`BadCursor`].
    pub fn decode(text: &str) -> Result<Self, BadCursor> {
        if text.len() > MAX_LEN {
            return Err(BadCursor);
        }
        let digits = text.strip_prefix(PREFIX).ok_or(BadCursor)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadCursor);
        }
        digits.parse().map(Self).map_err(|_| BadCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_reads_back_what_encode_wrote() {
        for seq in [0, 1, 1234, i64::MAX] {
            assert_eq!(
                FeedCursor::decode(&FeedCursor(seq).encode()),
                Ok(FeedCursor(seq))
            );
        }
    }

    #[test]
    fn decode_refuses_malformed_and_hostile_text() {
        let too_long = format!("c1.{}", "9".repeat(40));
        for text in [
            "",
            "c1.",
            "c1.-1",
            "c1.+1",
            "c1. 1",
            "c1.1x",
            "c2.1",
            "1234",
            "c1.99999999999999999999",
            "C1.1",
            "c1.١",
            &too_long,
        ] {
            assert_eq!(FeedCursor::decode(text), Err(BadCursor), "{text:?}");
        }
    }
}
