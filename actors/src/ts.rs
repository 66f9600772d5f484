//! Message timestamps (`ts`): microseconds since the Unix epoch, written on the
//! wire as Slack does, `"1700000000.000100"` (seconds, a dot, six digits).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A message timestamp; unique and strictly increasing within a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ts(pub u64);

impl Ts {
    /// Returns the current wall-clock time as a `Ts`.
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default();
        Ts(micros)
    }

    /// Returns the next `ts` for a channel whose last one is `last`: the current
    /// time, or one microsecond after `last` when the clock has not moved past it.
    pub fn next_after(last: Ts) -> Ts {
        Ts::now().max(Ts(last.0 + 1))
    }

    /// Returns the whole seconds, as Slack's `created` fields use them.
    pub fn seconds(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Returns the microseconds as a signed integer for SQL columns.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Error returned when a string is not a valid `ts`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid ts: expected seconds with up to six decimals, such as 1700000000.000100")]
pub struct InvalidTs;

impl FromStr for Ts {
    type Err = InvalidTs;

    /// Parses `"SECONDS"` or `"SECONDS.FRACTION"` with at most six fraction digits.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
        if seconds.is_empty()
            || fraction.len() > 6
            || !seconds.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(InvalidTs);
        }
        let seconds: u64 = seconds.parse().map_err(|_| InvalidTs)?;
        let mut micros: u64 = 0;
        for (position, digit) in fraction.bytes().enumerate() {
            micros += u64::from(digit - b'0') * 10u64.pow(5 - position as u32);
        }
        seconds
            .checked_mul(1_000_000)
            .and_then(|s| s.checked_add(micros))
            .map(Ts)
            .ok_or(InvalidTs)
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_round_trips_through_text() {
        let ts = Ts(1_700_000_000_000_100);
        assert_eq!(ts.to_string(), "1700000000.000100");
        assert_eq!("1700000000.000100".parse::<Ts>(), Ok(ts));
    }

    #[test]
    fn ts_parses_short_forms() {
        assert_eq!("12".parse::<Ts>(), Ok(Ts(12_000_000)));
        assert_eq!("12.5".parse::<Ts>(), Ok(Ts(12_500_000)));
        assert_eq!("0".parse::<Ts>(), Ok(Ts(0)));
    }

    #[test]
    fn ts_rejects_bad_text() {
        for bad in ["", ".5", "1.1234567", "abc", "1.2x", "-1", "1e5"] {
            assert_eq!(bad.parse::<Ts>(), Err(InvalidTs), "{bad:?}");
        }
    }

    #[test]
    fn next_after_is_strictly_greater() {
        let far_future = Ts(u64::MAX / 2);
        assert_eq!(Ts::next_after(far_future), Ts(far_future.0 + 1));
        assert!(Ts::next_after(Ts(0)) > Ts(0));
    }
}
