//! Listings in pages, which the original had on its to-do list. Without `limit` or `cursor` a
//! listing is what the original answered, one JSON array of everything. With them it is the
//! same array holding at most `limit` items (1 to 1000; 100 when only `cursor` is given), and
//! when more follow, a `Link: <…?limit=…&cursor=…>; rel="next"` header naming the next page.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::answer::Text;

/// The page size when only a cursor is given.
const DEFAULT_LIMIT: usize = 100;
/// The largest page.
const MAX_LIMIT: usize = 1000;

/// One page asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    /// Where the previous page ended; `None` for the first page.
    pub cursor: Option<String>,
}

/// The page a query string asks for; `None` for the whole listing. A `limit` that is not a
/// number from 1 to 1000 is a 400 `INVALID LIMIT: <limit>`; other parameters are ignored.
pub fn requested(query: Option<&str>) -> Result<Option<Page>, Text> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| Text::bad_request("INVALID QUERY"))?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.clone())
    };
    let (limit, cursor) = (get("limit"), get("cursor").filter(|c| !c.is_empty()));
    let limit = match limit {
        None if cursor.is_none() => return Ok(None),
        None => DEFAULT_LIMIT,
        Some(given) => given
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| Text::bad_request(format!("INVALID LIMIT: {given}")))?,
    };
    Ok(Some(Page { limit, cursor }))
}

/// The JSON array of `items`, with the `Link` to the page after it when `next` is a cursor.
pub fn listing<T: Serialize>(
    items: &[T],
    path: &str,
    page: Option<&Page>,
    next: Option<String>,
) -> Response {
    let mut response = Text::json(&items).into_response();
    let (Some(page), Some(next)) = (page, next) else {
        return response;
    };
    let query = serde_urlencoded::to_string([("limit", page.limit.to_string()), ("cursor", next)])
        .unwrap_or_default();
    if let Ok(link) = HeaderValue::from_str(&format!("<{path}?{query}>; rel=\"next\"")) {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_nor_cursor_is_everything() {
        assert_eq!(requested(None), Ok(None));
        assert_eq!(requested(Some("other=1")), Ok(None));
        assert_eq!(
            requested(Some("limit=10")),
            Ok(Some(Page {
                limit: 10,
                cursor: None
            }))
        );
        assert_eq!(
            requested(Some("cursor=a%2Fb")),
            Ok(Some(Page {
                limit: DEFAULT_LIMIT,
                cursor: Some("a/b".into())
            }))
        );
    }

    #[test]
    fn a_limit_is_1_to_1000() {
        for bad in ["0", "1001", "x", "-1", ""] {
            assert_eq!(
                requested(Some(&format!("limit={bad}"))),
                Err(Text::bad_request(format!("INVALID LIMIT: {bad}"))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_next_page_is_linked() {
        let page = Page {
            limit: 2,
            cursor: None,
        };
        let response = listing(&[1, 2], "/schedule/topics", Some(&page), Some("a b".into()));
        assert_eq!(
            response.headers()[header::LINK],
            "</schedule/topics?limit=2&cursor=a+b>; rel=\"next\""
        );
        let last = listing(&[1], "/schedule/topics", Some(&page), None);
        assert!(!last.headers().contains_key(header::LINK));
    }
}
