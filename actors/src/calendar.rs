//! UTC calendar days and months, for activity and billing. Days are counted
//! from the Unix epoch (1970-01-01 is day 0) and converted to and from the
//! proleptic Gregorian calendar with the usual era arithmetic (400-year
//! cycles of 146,097 days), so no time-zone database is needed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ts::Ts;

/// Microseconds in one day.
const MICROS_PER_DAY: u64 = 86_400 * 1_000_000;

/// Days in one 400-year cycle of the Gregorian calendar.
const DAYS_PER_ERA: i64 = 146_097;

/// Days from 0000-03-01 to 1970-01-01, in the shifted calendar that starts
/// each year in March so that the leap day falls at its end.
const EPOCH_SHIFT: i64 = 719_468;

/// One UTC calendar day, written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day {
    /// Days since 1970-01-01.
    pub days_since_epoch: i64,
}

/// Error returned when a text is not a valid day or month.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {text:?}: expected {format}")]
pub struct InvalidDate {
    /// `day` or `month`.
    kind: &'static str,
    /// The rejected text.
    text: String,
    /// The expected format.
    format: &'static str,
}

impl Day {
    /// Returns the UTC day that contains `ts`.
    pub fn of(ts: Ts) -> Day {
        Day {
            days_since_epoch: (ts.0 / MICROS_PER_DAY) as i64,
        }
    }

    /// Returns the current UTC day.
    pub fn today() -> Day {
        Day::of(Ts::now())
    }

    /// Returns the day of a calendar date. `month` is 1 to 12 and `day` 1 to
    /// 31; the caller checks that the date exists.
    pub fn from_date(year: i32, month: u32, day: u32) -> Day {
        let year = i64::from(year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let shifted_month = (i64::from(month) + 9) % 12;
        let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Day {
            days_since_epoch: era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT,
        }
    }

    /// Returns (year, month 1 to 12, day 1 to 31).
    pub fn date(self) -> (i32, u32, u32) {
        let shifted = self.days_since_epoch + EPOCH_SHIFT;
        let era = shifted.div_euclid(DAYS_PER_ERA);
        let day_of_era = shifted - era * DAYS_PER_ERA;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year as i32, month as u32, day as u32)
    }

    /// Returns the month this day belongs to.
    pub fn month(self) -> Month {
        let (year, month, _) = self.date();
        Month { year, month }
    }

    /// Returns the first microsecond of this day.
    pub fn start(self) -> Ts {
        Ts((self.days_since_epoch.max(0) as u64) * MICROS_PER_DAY)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.date();
        write!(formatter, "{year:04}-{month:02}-{day:02}")
    }
}

impl FromStr for Day {
    type Err = InvalidDate;

    /// Parses `YYYY-MM-DD`; rejects dates that do not exist, such as 2023-02-29.
    fn from_str(text: &str) -> Result<Day, InvalidDate> {
        let invalid = || InvalidDate {
            kind: "day",
            text: text.to_owned(),
            format: "YYYY-MM-DD",
        };
        let (month_text, day_text) = text.rsplit_once('-').ok_or_else(invalid)?;
        let month: Month = month_text.parse().map_err(|_| invalid())?;
        if day_text.len() != 2 || !day_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let day: u32 = day_text.parse().map_err(|_| invalid())?;
        if day == 0 || day > month.length() {
            return Err(invalid());
        }
        Ok(Day::from_date(month.year, month.month, day))
    }
}

/// One UTC calendar month, written `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    /// The year, 1 to 9999.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
}

impl Month {
    /// Returns the current UTC month.
    pub fn current() -> Month {
        Day::today().month()
    }

    /// Returns the month before this one.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Returns the month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Returns the first day of the month.
    pub fn first_day(self) -> Day {
        Day::from_date(self.year, self.month, 1)
    }

    /// Returns the number of days in the month.
    pub fn length(self) -> u32 {
        let days = self.next().first_day().days_since_epoch - self.first_day().days_since_epoch;
        days as u32
    }

    /// Returns the first microsecond after the month, when its activity is
    /// complete.
    pub fn end(self) -> Ts {
        self.next().first_day().start()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = InvalidDate;

    /// Parses `YYYY-MM` with a four-digit year from 0001 and a month 01 to 12.
    fn from_str(text: &str) -> Result<Month, InvalidDate> {
        let invalid = || InvalidDate {
            kind: "month",
            text: text.to_owned(),
            format: "YYYY-MM, such as 2025-06",
        };
        let (year_text, month_text) = text.split_once('-').ok_or_else(invalid)?;
        let digits = |part: &str, length: usize| {
            part.len() == length && part.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(year_text, 4) || !digits(month_text, 2) {
            return Err(invalid());
        }
        let year: i32 = year_text.parse().map_err(|_| invalid())?;
        let month: u32 = month_text.parse().map_err(|_| invalid())?;
        if year == 0 || !(1..=12).contains(&month) {
            return Err(invalid());
        }
        Ok(Month { year, month })
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_day_zero() {
        assert_eq!(Day::from_date(1970, 1, 1).days_since_epoch, 0);
        assert_eq!(Day::of(Ts(0)).to_string(), "1970-01-01");
        assert_eq!(Day::of(Ts(MICROS_PER_DAY - 1)).to_string(), "1970-01-01");
        assert_eq!(Day::of(Ts(MICROS_PER_DAY)).to_string(), "1970-01-02");
    }

    #[test]
    fn dates_round_trip_across_leap_years() {
        for days_since_epoch in -800_000..800_000 {
            let day = Day { days_since_epoch };
            let (year, month, date) = day.date();
            assert_eq!(
                Day::from_date(year, month, date),
                day,
                "{year}-{month}-{date}"
            );
        }
        // 2024-06-15 12:00:00 UTC.
        assert_eq!(Day::of(Ts(1_718_452_800_000_000)).to_string(), "2024-06-15");
        assert_eq!(Day::from_date(2000, 2, 29).to_string(), "2000-02-29");
    }

    #[test]
    fn days_parse_and_reject() {
        assert_eq!(
            "2024-02-29".parse::<Day>().unwrap(),
            Day::from_date(2024, 2, 29)
        );
        for text in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "x",
            "",
        ] {
            assert!(text.parse::<Day>().is_err(), "{text}");
        }
    }

    #[test]
    fn months_parse_step_and_measure() {
        let june: Month = "2025-06".parse().unwrap();
        assert_eq!(june.to_string(), "2025-06");
        assert_eq!(june.length(), 30);
        assert_eq!(june.previous().to_string(), "2025-05");
        assert_eq!(
            "2025-01".parse::<Month>().unwrap().previous().to_string(),
            "2024-12"
        );
        assert_eq!(
            "2024-12".parse::<Month>().unwrap().next().to_string(),
            "2025-01"
        );
        assert_eq!("2024-02".parse::<Month>().unwrap().length(), 29);
        assert_eq!("2100-02".parse::<Month>().unwrap().length(), 28);
        assert_eq!(june.end(), "2025-07-01".parse::<Day>().unwrap().start());
        for text in ["2025-6", "2025-13", "0000-01", "2025-06-01", "June", ""] {
            assert!(text.parse::<Month>().is_err(), "{text}");
        }
    }
}
