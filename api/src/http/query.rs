//! Decoding the query string and path segments.

use super::error::ApiError;

/// Decodes `%XX` escapes (and `+` as space when `plus` is set); `None` if not UTF-8.
fn decode(s: &str, plus: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    decode(s, false)
}

/// Parses a raw query string into decoded pairs.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || ApiError::BadParameter {
            path: "query".into(),
            detail: format!("cannot decode {pair:?}"),
        };
        out.push((
            decode(k, true).ok_or_else(bad)?,
            decode(v, true).ok_or_else(bad)?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        let q = parse_query("a=1&b=x+y%21&c").expect("query");
        assert_eq!(
            q,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y!".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
        assert!(parse_query("a=%ZZ").is_err());
    }
}
