//! Opaque pagination cursors, as Slack returns them in
//! `response_metadata.next_cursor`: base64 of `KIND:VALUE`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use switchboard_actors::ApiError;

/// Encodes a cursor that resumes after `value`.
pub fn encode(kind: &str, value: &str) -> String {
    STANDARD.encode(format!("{kind}:{value}"))
}

/// Decodes a cursor of the given kind; an empty cursor is `None`.
pub fn decode(kind: &str, cursor: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(cursor)
        .map_err(|_| ApiError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::InvalidCursor)?;
    let value = text
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or(ApiError::InvalidCursor)?;
    Ok(Some(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let cursor = encode("next_ts", "1512085861.000543");
        assert_eq!(
            decode("next_ts", Some(&cursor)).unwrap().as_deref(),
            Some("1512085861.000543")
        );
        assert_eq!(decode("next_ts", Some("")).unwrap(), None);
    }

    #[test]
    fn foreign_cursor_is_rejected() {
        let cursor = encode("user", "U1");
        assert_eq!(
            decode("next_ts", Some(&cursor)),
            Err(ApiError::InvalidCursor)
        );
        assert_eq!(decode("next_ts", Some("%%%")), Err(ApiError::InvalidCursor));
    }
}
