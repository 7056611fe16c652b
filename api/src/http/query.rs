//! Decoding the query string (`application/x-www-form-urlencoded`, with the
//! `form_urlencoded` crate) and path segments (percent-encoding, where `+` is a plus).

use super::error::ApiError;
use percent_encoding::percent_decode_str;

/// A path segment with its `%XX` escapes decoded; `None` if that is not UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Parses a raw query string into decoded `(name, value)` pairs, in order.
///
/// A name or value whose escapes do not decode to UTF-8 is a 400
/// `bad_parameter` naming the parameter (`form_urlencoded` would put U+FFFD in
/// its place); a malformed escape such as `%ZZ` is kept as it is written, so the
/// parameter's own check (a number, a status) rejects it by name.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(name, value)| {
            if name.contains(char::REPLACEMENT_CHARACTER)
                || value.contains(char::REPLACEMENT_CHARACTER)
            {
                return Err(ApiError::BadParameter {
                    path: name.into_owned(),
                    detail: "not UTF-8 once percent-decoded".into(),
                });
            }
            Ok((name.into_owned(), value.into_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        let q = parse_query("a=1&b=x+y%21&c&&d=%2B").expect("query");
        assert_eq!(
            q,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y!".to_string()),
                ("c".to_string(), String::new()),
                ("d".to_string(), "+".to_string()),
            ]
        );
        assert_eq!(
            parse_query("k=%ZZ").expect("kept as written"),
            vec![("k".to_string(), "%ZZ".to_string())]
        );
    }

    #[test]
    fn a_value_that_is_not_utf8_names_its_parameter() {
        let err = parse_query("seed=1&status=%FF%FE").expect_err("not UTF-8");
        assert!(matches!(&err, ApiError::BadParameter { path, .. } if path == "status"));
        assert_eq!(err.code_and_status().0, "bad_parameter");
    }

    #[test]
    fn path_segments_keep_plus_and_refuse_bad_utf8() {
        assert_eq!(percent_decode("a+b%20c").as_deref(), Some("a+b c"));
        assert_eq!(percent_decode("%E2%82%AC").as_deref(), Some("€"));
        assert!(percent_decode("%FF").is_none());
    }
}
