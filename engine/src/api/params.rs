//! Arguments of a Web API call, merged from the query string and a form or JSON
//! body, with typed accessors that return Slack's error strings.

use serde_json::{Map, Value};

use switchboard_actors::ids::{is_valid_id, ChannelId, UserId};
use switchboard_actors::ts::Ts;
use switchboard_actors::ApiError;

/// The arguments of one call. Form and query values are strings; JSON values
/// keep their types.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// Argument name to value.
    values: Map<String, Value>,
}

impl Params {
    /// Wraps an argument map.
    pub fn new(values: Map<String, Value>) -> Params {
        Params { values }
    }

    /// Adds or replaces one argument.
    pub fn insert(&mut self, name: &str, value: impl Into<Value>) {
        self.values.insert(name.to_owned(), value.into());
    }

    /// Adds every argument of `other` that is not set here.
    pub fn merge_missing(&mut self, other: Map<String, Value>) {
        for (name, value) in other {
            self.values.entry(name).or_insert(value);
        }
    }

    /// Parses an `application/x-www-form-urlencoded` string.
    pub fn parse_form(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| ApiError::InvalidFormData)?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect())
    }

    /// Parses a JSON object body.
    pub fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::InvalidJson),
        }
    }

    /// Returns the raw value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    /// Returns a string argument; numbers and booleans are rendered as text.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    /// Returns a non-empty string argument or `InvalidArguments`.
    pub fn required_str(&self, name: &str) -> Result<String, ApiError> {
        self.str(name)
            .filter(|text| !text.is_empty())
            .ok_or(ApiError::InvalidArguments)
    }

    /// Returns a boolean argument: `true`, `1` and `"true"` are true.
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::Number(number)) => number.as_i64() == Some(1),
            Some(Value::String(text)) => matches!(text.as_str(), "true" | "1"),
            _ => false,
        }
    }

    /// Returns a limit between 1 and `max`, `default` when absent; 0 also means
    /// the default, as Slack treats it.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(text) = self.str("limit") else {
            return Ok(default);
        };
        let limit: usize = text.trim().parse().map_err(|_| ApiError::InvalidLimit)?;
        Ok(if limit == 0 { default } else { limit.min(max) })
    }

    /// Returns the `channel` argument as a conversation id.
    pub fn channel(&self) -> Result<ChannelId, ApiError> {
        self.channel_named("channel")
    }

    /// Returns a conversation id argument; a malformed id is `ChannelNotFound`.
    pub fn channel_named(&self, name: &str) -> Result<ChannelId, ApiError> {
        let text = self
            .str(name)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::ChannelNotFound)?;
        if is_valid_id(&text, &['C', 'D', 'G']) {
            Ok(ChannelId(text))
        } else {
            Err(ApiError::ChannelNotFound)
        }
    }

    /// Returns a user id argument; a malformed id is `UserNotFound`.
    pub fn user(&self, name: &str) -> Result<UserId, ApiError> {
        let text = self
            .str(name)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::UserNotFound)?;
        if is_valid_id(&text, &['U', 'W']) {
            Ok(UserId(text))
        } else {
            Err(ApiError::UserNotFound)
        }
    }

    /// Returns a comma-separated list of user ids (or a JSON array).
    pub fn user_list(&self, name: &str) -> Result<Vec<UserId>, ApiError> {
        let items: Vec<String> = match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => self
                .str(name)
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            None => Vec::new(),
        };
        if items.is_empty() {
            return Err(ApiError::UsersNotFound);
        }
        items
            .into_iter()
            .map(|id| {
                if is_valid_id(&id, &['U', 'W']) {
                    Ok(UserId(id))
                } else {
                    Err(ApiError::UserNotFound)
                }
            })
            .collect()
    }

    /// Returns a `ts` argument, `error` when malformed.
    pub fn ts(&self, name: &str, error: ApiError) -> Result<Option<Ts>, ApiError> {
        match self.str(name).filter(|t| !t.is_empty()) {
            Some(text) => text.parse().map(Some).map_err(|_| error),
            None => Ok(None),
        }
    }

    /// Returns a JSON argument given either as JSON or as a JSON string (form
    /// bodies send `blocks` and `attachments` that way).
    pub fn json(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.get(name) {
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|_| ApiError::InvalidArguments),
            Some(value) => Ok(Some(value.clone())),
            None => Ok(None),
        }
    }

    /// Returns every argument, for `api.test`'s echo.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_and_json_bodies_parse() {
        let form = Params::parse_form(b"channel=C123&text=hi+there").unwrap();
        assert_eq!(form["text"], "hi there");
        assert_eq!(Params::parse_json(b"{\"a\":1}").unwrap()["a"], 1);
        assert_eq!(Params::parse_json(b"{bad"), Err(ApiError::InvalidJson));
        assert_eq!(Params::parse_json(b"[1]"), Err(ApiError::InvalidJson));
    }

    #[test]
    fn accessors_report_slack_errors() {
        let params = Params::new(
            json!({"channel": "nope", "limit": "x", "users": "U1AB, U2CD", "inclusive": "1"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(params.channel(), Err(ApiError::ChannelNotFound));
        assert_eq!(params.limit(100, 1000), Err(ApiError::InvalidLimit));
        assert_eq!(params.user_list("users").unwrap().len(), 2);
        assert!(params.flag("inclusive"));
        assert!(!params.flag("missing"));
    }

    #[test]
    fn json_argument_accepts_string_form() {
        let params = Params::new(
            json!({"blocks": "[{\"type\":\"divider\"}]", "bad": "{"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(
            params.json("blocks").unwrap().unwrap()[0]["type"],
            "divider"
        );
        assert_eq!(params.json("bad"), Err(ApiError::InvalidArguments));
    }
}
