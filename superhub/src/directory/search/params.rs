//! The parameters of `GET /api/v1/hubs` (superhub.md §5.1) read from the raw query string, where
//! `tag` and `join_mode` may repeat; every bound is checked while reading, before any work.

use shared::record::{is_language, is_tag};

use super::SearchError;
use crate::store::{HubSearch, SearchSort};

/// Longest query string read, in bytes (percent-encoded).
pub const MAX_QUERY_BYTES: usize = 8192;
/// Most `name=value` pairs read.
pub const MAX_PAIRS: usize = 50;
/// Longest `q`, in characters.
pub const MAX_Q_CHARS: usize = 200;
/// Tokens of `q` used; later ones are ignored.
pub const MAX_TOKENS: usize = 8;
/// Longest token, in characters.
pub const MAX_TOKEN_CHARS: usize = 64;
/// Most `tag` parameters.
pub const MAX_TAGS: usize = 5;
/// Results per page: default and maximum.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 100;

const JOIN_MODES: [&str; 4] = ["open", "email", "invite", "application"];
const ACCESS: [&str; 2] = ["free", "paid"];

/// A parsed search request: the store's search (without a position yet) and the raw cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Filters, tokens, the effective order and the limit.
    pub search: HubSearch,
    /// The `cursor` parameter as given.
    pub cursor: Option<String>,
}

fn invalid(field: &'static str, message: &'static str) -> SearchError {
    SearchError::InvalidField { field, message }
}

/// `q` lower-cased and split on every character that is not a Unicode letter or digit (Rust's
/// `char::is_alphanumeric`); empty tokens dropped, at most [`MAX_TOKENS`] kept. Lower-casing comes
/// first so that every token consists of letters and digits only, which both query languages take
/// without escaping.
///
/// # Errors
/// [`SearchError::InvalidField`] (`q`) for a token longer than [`MAX_TOKEN_CHARS`].
pub fn tokenize(q: &str) -> Result<Vec<String>, SearchError> {
    let lower = q.to_lowercase();
    let tokens: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(MAX_TOKENS)
        .map(str::to_owned)
        .collect();
    if tokens.iter().any(|t| t.chars().count() > MAX_TOKEN_CHARS) {
        return Err(invalid("q", "tokens have at most 64 characters"));
    }
    Ok(tokens)
}

/// Sets a parameter that may appear once.
fn once(slot: &mut Option<String>, field: &'static str, value: String) -> Result<(), SearchError> {
    if slot.replace(value).is_some() {
        return Err(invalid(field, "given more than once"));
    }
    Ok(())
}

/// Reads the raw query string `raw` (without `?`). Unknown parameters are ignored but count
/// towards [`MAX_PAIRS`]; non-UTF-8 percent-escapes decode to U+FFFD.
///
/// # Errors
/// [`SearchError::InvalidField`] naming the parameter (or `query` for an oversized query string).
pub fn parse(raw: &str) -> Result<SearchParams, SearchError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(invalid("query", "the query string has at most 8192 bytes"));
    }
    let (mut q, mut region, mut language, mut access, mut sort, mut cursor, mut limit) =
        (None, None, None, None, None, None, None);
    let mut tags: Vec<String> = Vec::new();
    let mut join_modes: Vec<String> = Vec::new();
    for (n, (name, value)) in form_urlencoded::parse(raw.as_bytes()).enumerate() {
        if n >= MAX_PAIRS {
            return Err(invalid("query", "at most 50 parameters"));
        }
        let value = value.into_owned();
        match name.as_ref() {
            "q" => once(&mut q, "q", value)?,
            "tag" => {
                if tags.len() == MAX_TAGS {
                    return Err(invalid("tag", "at most 5 tags"));
                }
                if !is_tag(&value) {
                    return Err(invalid("tag", "a tag has 1–32 of a-z, 0-9 and '-'"));
                }
                tags.push(value);
            }
            "region" => once(&mut region, "region", value)?,
            "language" => once(&mut language, "language", value)?,
            "join_mode" => {
                if !JOIN_MODES.contains(&value.as_str()) {
                    return Err(invalid("join_mode", "open, email, invite or application"));
                }
                join_modes.push(value);
            }
            "access" => once(&mut access, "access", value)?,
            "sort" => once(&mut sort, "sort", value)?,
            "cursor" => once(&mut cursor, "cursor", value)?,
            "limit" => once(&mut limit, "limit", value)?,
            _ => {}
        }
    }
    let q = q.unwrap_or_default();
    if q.chars().count() > MAX_Q_CHARS {
        return Err(invalid("q", "at most 200 characters"));
    }
    let tokens = tokenize(&q)?;
    if region
        .as_ref()
        .is_some_and(|r| r.len() != 2 || !r.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(invalid("region", "two lower-case letters (ISO 3166-1)"));
    }
    if language.as_ref().is_some_and(|l| !is_language(l)) {
        return Err(invalid("language", "a BCP 47 tag of at most 16 characters"));
    }
    if access
        .as_ref()
        .is_some_and(|a| !ACCESS.contains(&a.as_str()))
    {
        return Err(invalid("access", "free or paid"));
    }
    let sort = match sort.as_deref() {
        None if tokens.is_empty() => SearchSort::Members,
        None => SearchSort::Relevance,
        Some(word) => SearchSort::parse(word)
            .ok_or_else(|| invalid("sort", "relevance, members, uptime or newest"))?,
    };
    let sort = if sort == SearchSort::Relevance && tokens.is_empty() {
        SearchSort::Members
    } else {
        sort
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit", "an integer from 1 to 100"))?,
    };
    tags.sort();
    tags.dedup();
    join_modes.sort();
    join_modes.dedup();
    Ok(SearchParams {
        search: HubSearch {
            tokens,
            tags,
            region,
            language,
            join_modes,
            access,
            sort,
            after: None,
            limit,
        },
        cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(raw: &str) -> &'static str {
        match parse(raw) {
            Err(SearchError::InvalidField { field, .. }) => field,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn tokenize_splits_on_non_alphanumerics_and_lowercases_when_given_mixed_text() {
        let tokens = tokenize("  Café-Übung, go/RUST_2024 \"x\" NEAR(a*b):c|d!&e  ").unwrap();

        assert_eq!(
            tokens,
            ["café", "übung", "go", "rust", "2024", "x", "near", "a"]
        );
        assert_eq!(
            tokenize("日本語 コミュニティ").unwrap(),
            ["日本語", "コミュニティ"]
        );
        assert!(tokenize("-- !! ").unwrap().is_empty());
    }

    #[test]
    fn tokenize_refuses_a_token_when_longer_than_64_characters() {
        assert_eq!(tokenize(&"é".repeat(64)).unwrap().len(), 1);
        assert!(tokenize(&"é".repeat(65)).is_err());
    }

    #[test]
    fn parse_reads_repeated_filters_and_defaults_when_given_a_full_query() {
        let params = parse(
            "q=Go+dev&tag=go&tag=web-dev&tag=go&region=nl&language=en&join_mode=open\
             &join_mode=email&access=free&limit=7&cursor=abc&unknown=1",
        )
        .unwrap();

        let s = params.search;
        assert_eq!(s.tokens, ["go", "dev"]);
        assert_eq!(s.tags, ["go", "web-dev"]);
        assert_eq!(
            (s.region.as_deref(), s.language.as_deref()),
            (Some("nl"), Some("en"))
        );
        assert_eq!(s.join_modes, ["email", "open"]);
        assert_eq!((s.access.as_deref(), s.limit), (Some("free"), 7));
        assert_eq!(s.sort, SearchSort::Relevance);
        assert_eq!(params.cursor.as_deref(), Some("abc"));
        assert_eq!(parse("").unwrap().search.sort, SearchSort::Members);
        assert_eq!(
            parse("sort=relevance").unwrap().search.sort,
            SearchSort::Members
        );
        assert_eq!(parse("").unwrap().search.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn parse_names_the_parameter_when_a_value_is_invalid() {
        let cases = [
            (format!("q={}", "a".repeat(201)), "q"),
            ("tag=Go".to_owned(), "tag"),
            ("tag=a&tag=b&tag=c&tag=d&tag=e&tag=f".to_owned(), "tag"),
            ("tag=%FF".to_owned(), "tag"),
            ("region=NL".to_owned(), "region"),
            ("region=nld".to_owned(), "region"),
            ("language=en_US!".to_owned(), "language"),
            ("join_mode=closed".to_owned(), "join_mode"),
            ("access=cheap".to_owned(), "access"),
            ("sort=random".to_owned(), "sort"),
            ("limit=0".to_owned(), "limit"),
            ("limit=101".to_owned(), "limit"),
            ("limit=-1".to_owned(), "limit"),
            ("q=a&q=b".to_owned(), "q"),
            ("x=1&".repeat(51), "query"),
            ("q=".to_owned() + &"a".repeat(MAX_QUERY_BYTES), "query"),
        ];

        for (raw, field) in cases {
            assert_eq!(field_of(&raw), field, "{raw}");
        }
    }

    #[test]
    fn parse_ignores_tokens_when_more_than_eight() {
        let params = parse("q=a+b+c+d+e+f+g+h+i+j").unwrap();

        assert_eq!(
            params.search.tokens,
            ["a", "b", "c", "d", "e", "f", "g", "h"]
        );
    }
}
