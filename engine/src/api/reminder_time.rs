//! Parsing the `time` argument of `reminders.add` into a due time in Unix
//! seconds. Accepted forms:
//!
//! - a number: seconds from now when it is below [`RELATIVE_LIMIT_SECS`]
//!   (ten years), otherwise a Unix timestamp;
//! - `in N seconds` / `minutes` / `hours` / `days` / `weeks` (also the
//!   singular and the short forms `sec`, `min`, `hr`, `s`, `m`, `h`, `d`,
//!   `w`), and `in a minute`, `in an hour` and the like;
//! - `tomorrow`: 09:00 UTC on the next day.
//!
//! The result must be after `now` and at most [`MAX_AHEAD_SECS`] later.
//! Recurring phrases (`every Thursday`) are not supported.

/// Numbers below this many seconds (ten years of 365 days) are relative to
/// now, and larger ones are Unix timestamps.
pub const RELATIVE_LIMIT_SECS: i64 = 10 * 365 * DAY_SECS;

/// How far ahead a reminder may be due: five years, as Slack documents for
/// timestamps, counting every year as 366 days.
pub const MAX_AHEAD_SECS: i64 = 5 * 366 * DAY_SECS;

/// Seconds in a day.
const DAY_SECS: i64 = 86_400;

/// Hour of the day (UTC) that `tomorrow` means.
const TOMORROW_HOUR: i64 = 9;

/// Parses `input` at time `now` (Unix seconds). Returns the due time, or
/// `None` when the text is not understood or the time is not in the allowed
/// window.
pub fn parse_due_time(input: &str, now: i64) -> Option<i64> {
    let normalized = input.trim().trim_end_matches('.').to_ascii_lowercase();
    let words: Vec<&str> = normalized.split_whitespace().collect();
    let due = match words.as_slice() {
        [number] if is_number(number) => {
            let value: i64 = number.parse().ok()?;
            if value < RELATIVE_LIMIT_SECS {
                now.checked_add(value)?
            } else {
                value
            }
        }
        ["tomorrow"] => (now.div_euclid(DAY_SECS) + 1) * DAY_SECS + TOMORROW_HOUR * 3_600,
        ["in", count, unit] => {
            let count: i64 = match *count {
                "a" | "an" | "one" => 1,
                digits if is_number(digits) => digits.parse().ok()?,
                _ => return None,
            };
            now.checked_add(count.checked_mul(unit_secs(unit)?)?)?
        }
        ["in", compact] => {
            // `in 5m`, `in 30s`: the count and a short unit without a space.
            let split = compact.find(|c: char| !c.is_ascii_digit())?;
            let (count, unit) = compact.split_at(split);
            if count.is_empty() {
                return None;
            }
            let count: i64 = count.parse().ok()?;
            now.checked_add(count.checked_mul(unit_secs(unit)?)?)?
        }
        _ => return None,
    };
    (due > now && due - now <= MAX_AHEAD_SECS).then_some(due)
}

/// Returns whether `text` is a non-empty run of ASCII digits.
fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Returns the length of a time unit in seconds.
fn unit_secs(unit: &str) -> Option<i64> {
    let secs = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => DAY_SECS,
        "w" | "week" | "weeks" => 7 * DAY_SECS,
        _ => return None,
    };
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14 22:13:20 UTC.
    const NOW: i64 = 1_700_000_000;

    #[test]
    fn relative_phrases() {
        let cases = [
            ("in 1 second", NOW + 1),
            ("in 30 seconds", NOW + 30),
            ("In 5 Minutes.", NOW + 300),
            ("in a minute", NOW + 60),
            ("in an hour", NOW + 3_600),
            ("in 2 hours", NOW + 7_200),
            ("in 3 days", NOW + 3 * DAY_SECS),
            ("in 1 week", NOW + 7 * DAY_SECS),
            ("in 10m", NOW + 600),
            ("  in   15   mins ", NOW + 900),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_due_time(input, NOW), Some(expected), "{input}");
        }
    }

    #[test]
    fn numbers_are_relative_below_ten_years() {
        assert_eq!(parse_due_time("1", NOW), Some(NOW + 1));
        assert_eq!(parse_due_time("3600", NOW), Some(NOW + 3_600));
        assert_eq!(
            parse_due_time(&(NOW + 500).to_string(), NOW),
            Some(NOW + 500)
        );
        // Ten years of seconds is a timestamp (in 1980), so it is in the past.
        assert_eq!(parse_due_time(&RELATIVE_LIMIT_SECS.to_string(), NOW), None);
        // Just below the limit is relative, but further ahead than allowed.
        let below = (RELATIVE_LIMIT_SECS - 1).to_string();
        assert_eq!(parse_due_time(&below, NOW), None);
    }

    #[test]
    fn tomorrow_is_nine_utc() {
        // NOW is 22:13 UTC on 2023-11-14, so tomorrow is 2023-11-15 09:00 UTC.
        assert_eq!(parse_due_time("tomorrow", NOW), Some(1_700_038_800));
        assert_eq!(parse_due_time("Tomorrow.", NOW), Some(1_700_038_800));
    }

    #[test]
    fn invalid_times_are_rejected() {
        for input in [
            "",
            "   ",
            "soon",
            "0",
            "in 0 seconds",
            "in -5 minutes",
            "in five minutes",
            "in 5 fortnights",
            "in m",
            "every thursday",
            "1.5",
            "-60",
            "in 99999999999999999999 seconds",
            "in 9223372036854775807 weeks",
            "1000000000",
            "99999999999",
        ] {
            assert_eq!(parse_due_time(input, NOW), None, "{input:?}");
        }
    }

    #[test]
    fn limit_is_five_years_ahead() {
        let limit = NOW + MAX_AHEAD_SECS;
        assert_eq!(parse_due_time(&limit.to_string(), NOW), Some(limit));
        assert_eq!(parse_due_time(&(limit + 1).to_string(), NOW), None);
    }
}
