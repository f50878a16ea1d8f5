//! Pagination (SPEC §5): query parsing, the cursor codec, and the two list envelopes.
//!
//! Cursor pagination is keyset pagination: a cursor names a position (sort key value, id)
//! and the next page is "the sessions after that position", found through an index. Unlike
//! OFFSET, its cost does not grow with depth, and a walk never repeats or skips a session
//! that exists throughout it, whatever is created or deleted meanwhile.

use crate::api::error::ApiError;
use crate::api::openapi::{SortByParam, SortOrderParam, SortParam};
use crate::store::{Position, Sort, SortKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub const MAX_PAGE_SIZE: i64 = 100;
pub const MAX_OFFSET_DEPTH: i64 = 10_000;

/// The query parameters of a list request, decoded (brackets may be percent-encoded
/// [C-30]); unknown ones are ignored [C-5]; a repeated parameter takes its last value.
/// They are kept as strings and judged by [`ListRequest::from_params`], so that bad values
/// get Zendesk's 400 bodies; the `param` attributes say what is valid, for the OpenAPI
/// document.
#[derive(Debug, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawParams {
    /// Cursor pagination: sessions per page, 1 to 100 (larger is capped at 100).
    #[param(rename = "page[size]", value_type = Option<i64>, minimum = 1)]
    pub page_size: Option<String>,
    /// Cursor pagination: the page after this cursor (`meta.after_cursor` of a page).
    #[param(rename = "page[after]", value_type = Option<String>)]
    pub page_after: Option<String>,
    /// Cursor pagination: the page before this cursor (`meta.before_cursor` of a page);
    /// not together with `page[after]`.
    #[param(rename = "page[before]", value_type = Option<String>)]
    pub page_before: Option<String>,
    /// The order: a key, descending with a leading `-` (default `id`).
    #[param(value_type = Option<SortParam>, inline)]
    pub sort: Option<String>,
    /// Offset pagination: the page, from 1 (`page * per_page` at most 10000).
    #[param(value_type = Option<i64>, minimum = 1)]
    pub page: Option<String>,
    /// Offset pagination: sessions per page (default 100; larger is capped at 100).
    #[param(value_type = Option<i64>, minimum = 1)]
    pub per_page: Option<String>,
    /// Offset pagination: the sort key (ignored under cursor pagination).
    #[param(value_type = Option<SortByParam>, inline)]
    pub sort_by: Option<String>,
    /// Offset pagination: the direction (ignored under cursor pagination).
    #[param(value_type = Option<SortOrderParam>, inline)]
    pub sort_order: Option<String>,
}

/// Splits a raw query string into decoded `(key, value)` pairs (`+` is a space).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

impl RawParams {
    pub fn parse(query: Option<&str>) -> Self {
        let mut p = RawParams::default();
        for (k, v) in query_pairs(query.unwrap_or("")) {
            let slot = match k.as_str() {
                "page[size]" => &mut p.page_size,
                "page[after]" => &mut p.page_after,
                "page[before]" => &mut p.page_before,
                "sort" => &mut p.sort,
                "page" => &mut p.page,
                "per_page" => &mut p.per_page,
                "sort_by" => &mut p.sort_by,
                "sort_order" => &mut p.sort_order,
                _ => continue,
            };
            *slot = Some(v);
        }
        p
    }
}

/// What a list request asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRequest {
    Cursor { size: u32, sort: Sort, sort_param: Option<String>, after: Option<Position>, before: Option<Position> },
    Offset { page: u32, per_page: u32, sort: Sort, sort_params: Vec<(&'static str, String)> },
}

/// `sort=id|-id|authenticated_at|…` [C-37].
pub fn parse_sort(s: &str) -> Result<Sort, ApiError> {
    let (descending, name) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let key = sort_key(name).ok_or(ApiError::InvalidSort)?;
    Ok(Sort { key, descending })
}

fn sort_key(name: &str) -> Option<SortKey> {
    match name {
        "id" => Some(SortKey::Id),
        "authenticated_at" => Some(SortKey::AuthenticatedAt),
        "last_seen_at" => Some(SortKey::LastSeenAt),
        _ => None,
    }
}

/// An integer parameter that must be ≥ 1; anything else is the `{name} is not valid` 400.
fn positive(value: &str, name: &str) -> Result<i64, ApiError> {
    value.trim().parse::<i64>().ok().filter(|&n| n >= 1).ok_or_else(|| ApiError::invalid_parameter(name))
}

impl ListRequest {
    pub fn from_params(p: &RawParams) -> Result<Self, ApiError> {
        let cursor_mode = p.page_size.is_some() || p.page_after.is_some() || p.page_before.is_some();
        if cursor_mode {
            let size = match &p.page_size {
                Some(s) => positive(s, "page[size]")?.min(MAX_PAGE_SIZE),
                None => MAX_PAGE_SIZE,
            };
            let sort = match &p.sort {
                Some(s) => parse_sort(s)?,
                None => Sort::default(),
            };
            if p.page_after.is_some() && p.page_before.is_some() {
                return Err(ApiError::InvalidParameter {
                    code: "InvalidPaginationParameter",
                    title: "page[before] and page[after] cannot be used together".into(),
                });
            }
            let after = p.page_after.as_deref().map(|c| decode_cursor(c, sort, "page[after]")).transpose()?;
            let before = p.page_before.as_deref().map(|c| decode_cursor(c, sort, "page[before]")).transpose()?;
            return Ok(ListRequest::Cursor {
                size: u32::try_from(size).unwrap_or(100),
                sort,
                sort_param: p.sort.clone(),
                after,
                before,
            });
        }
        let page = match &p.page {
            Some(s) => positive(s, "page")?,
            None => 1,
        };
        let per_page = match &p.per_page {
            Some(s) => positive(s, "per_page")?.min(MAX_PAGE_SIZE),
            None => MAX_PAGE_SIZE,
        };
        let mut sort_params = Vec::new();
        let sort = if let Some(s) = &p.sort {
            sort_params.push(("sort", s.clone()));
            parse_sort(s)?
        } else {
            let key = match &p.sort_by {
                Some(k) => {
                    sort_params.push(("sort_by", k.clone()));
                    sort_key(k).ok_or(ApiError::InvalidSort)?
                }
                None => SortKey::Id,
            };
            let descending = match p.sort_order.as_deref() {
                Some(o) => {
                    sort_params.push(("sort_order", o.to_owned()));
                    match o {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(ApiError::InvalidSort),
                    }
                }
                None => false,
            };
            Sort { key, descending }
        };
        if page.saturating_mul(per_page) > MAX_OFFSET_DEPTH {
            return Err(ApiError::InvalidParameter {
                code: "InvalidPaginationDepth",
                title: "Pagination requests using Offset Pagination are limited to page 100 or up to 10000 records (page * per_page)".into(),
            });
        }
        Ok(ListRequest::Offset {
            page: u32::try_from(page).unwrap_or(1),
            per_page: u32::try_from(per_page).unwrap_or(100),
            sort,
            sort_params,
        })
    }
}

const CURSOR_VERSION: u8 = 1;

fn sort_code(sort: Sort) -> u8 {
    let key = match sort.key {
        SortKey::Id => 0,
        SortKey::AuthenticatedAt => 1,
        SortKey::LastSeenAt => 2,
    };
    key * 2 + u8::from(sort.descending)
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let mut sum = [0u8; 4];
    for (out, byte) in sum.iter_mut().zip(Sha256::digest(payload)) {
        *out = byte;
    }
    sum
}

/// Encodes a position in a sort as an opaque cursor: version, sort, key, id and a short
/// checksum (to refuse corrupted cursors), base64url. It carries nothing secret.
pub fn encode_cursor(sort: Sort, pos: Position) -> String {
    let mut buf = Vec::with_capacity(22);
    buf.push(CURSOR_VERSION);
    buf.push(sort_code(sort));
    buf.extend_from_slice(&pos.key.to_be_bytes());
    buf.extend_from_slice(&pos.id.to_be_bytes());
    let sum = checksum(&buf);
    buf.extend_from_slice(&sum);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Decodes a cursor made by [`encode_cursor`] for this sort; anything else is the
/// `{param} is not valid` 400 [C-38].
pub fn decode_cursor(cursor: &str, sort: Sort, param: &str) -> Result<Position, ApiError> {
    let invalid = || ApiError::invalid_parameter(param);
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).map_err(|_| invalid())?;
    let bytes: [u8; 22] = raw.as_slice().try_into().map_err(|_| invalid())?;
    let (payload, sum) = bytes.split_at(18);
    if checksum(payload) != sum || payload.first() != Some(&CURSOR_VERSION) || payload.get(1) != Some(&sort_code(sort))
    {
        return Err(invalid());
    }
    let key = i64::from_be_bytes(payload.get(2..10).and_then(|s| s.try_into().ok()).ok_or_else(invalid)?);
    let id = i64::from_be_bytes(payload.get(10..18).and_then(|s| s.try_into().ok()).ok_or_else(invalid)?);
    Ok(Position { key, id })
}

/// Percent-encodes a query value (cursors are base64url already; sorts may hold `-`).
pub fn encode_query_value(v: &str) -> String {
    // Unreserved characters (RFC 3986) stay as they are: `sort_by=last_seen_at`, `sort=-id`.
    const QUERY_VALUE: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sort(key: SortKey, descending: bool) -> Sort {
        Sort { key, descending }
    }

    #[test]
    fn brackets_may_be_percent_encoded_and_unknown_params_ignored() {
        let p = RawParams::parse(Some("page%5Bsize%5D=5&foo=bar&page[after]=x&sort=-id"));
        assert_eq!(p.page_size.as_deref(), Some("5"));
        assert_eq!(p.page_after.as_deref(), Some("x"));
        assert_eq!(p.sort.as_deref(), Some("-id"));
    }

    #[test]
    fn page_size_rules() {
        let req = |q: &str| ListRequest::from_params(&RawParams::parse(Some(q)));
        assert!(matches!(req("page[size]=500"), Ok(ListRequest::Cursor { size: 100, .. })));
        assert!(matches!(req(&format!("page[size]={}", i64::MAX)), Ok(ListRequest::Cursor { size: 100, .. })));
        for bad in ["0", "-1", "1.5", "", "abc", "1e9", "99999999999999999999"] {
            let err = req(&format!("page[size]={bad}")).err();
            assert!(
                matches!(&err, Some(ApiError::InvalidParameter { title, .. }) if title == "page[size] is not valid"),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn offset_rules() {
        let req = |q: &str| ListRequest::from_params(&RawParams::parse(Some(q)));
        assert!(matches!(req(""), Ok(ListRequest::Offset { page: 1, per_page: 100, .. })));
        assert!(matches!(req("per_page=1000&page=100"), Ok(ListRequest::Offset { per_page: 100, page: 100, .. })));
        assert!(matches!(req("page=101"), Err(ApiError::InvalidParameter { code: "InvalidPaginationDepth", .. })));
        assert!(matches!(req("page=0"), Err(ApiError::InvalidParameter { title, .. }) if title == "page is not valid"));
        assert!(
            matches!(req("per_page=x"), Err(ApiError::InvalidParameter { title, .. }) if title == "per_page is not valid")
        );
        assert!(matches!(req("sort_by=name"), Err(ApiError::InvalidSort)));
        assert!(matches!(
            req("sort_by=last_seen_at&sort_order=desc"),
            Ok(ListRequest::Offset { sort: Sort { key: SortKey::LastSeenAt, descending: true }, .. })
        ));
    }

    #[test]
    fn cursors_are_tied_to_their_sort_and_refuse_tampering() {
        let s = sort(SortKey::AuthenticatedAt, true);
        let c = encode_cursor(s, Position { key: 1_700_000_000, id: 42 });
        assert_eq!(decode_cursor(&c, s, "page[after]").ok(), Some(Position { key: 1_700_000_000, id: 42 }));
        assert!(decode_cursor(&c, sort(SortKey::AuthenticatedAt, false), "page[after]").is_err());
        let mut t = c.clone().into_bytes();
        t[5] = if t[5] == b'A' { b'B' } else { b'A' };
        assert!(decode_cursor(&String::from_utf8(t).unwrap(), s, "page[after]").is_err());
        assert!(decode_cursor("", s, "page[after]").is_err());
        assert!(decode_cursor("%%%", s, "page[after]").is_err());
    }

    proptest! {
        #[test]
        fn cursor_round_trips(key in any::<i64>(), id in any::<i64>(), k in 0u8..3, desc in any::<bool>()) {
            let key_kind = [SortKey::Id, SortKey::AuthenticatedAt, SortKey::LastSeenAt][k as usize];
            let s = sort(key_kind, desc);
            let c = encode_cursor(s, Position { key, id });
            prop_assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            prop_assert_eq!(decode_cursor(&c, s, "page[after]").ok(), Some(Position { key, id }));
        }

        #[test]
        fn arbitrary_cursors_never_panic(s in ".{0,64}") {
            let _ = decode_cursor(&s, Sort::default(), "page[after]");
        }

        #[test]
        fn arbitrary_queries_never_panic(q in ".{0,128}") {
            let _ = ListRequest::from_params(&RawParams::parse(Some(&q)));
        }
    }
}
