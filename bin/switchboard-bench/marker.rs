//! The text of benchmark posts: `bench:RUN:SEQ:MICROS`, where MICROS is the
//! send time in microseconds since the harness started. Receivers find it in
//! the raw event bytes without parsing the whole JSON object.

use std::sync::OnceLock;
use std::time::Instant;

use memchr::memmem;

/// The instant send times are measured from; set by the first call.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Returns microseconds since the first call in this process.
pub fn now_micros() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The bytes before the marker in a JSON event or post body.
const NEEDLE: &[u8] = br#""text":"bench:"#;

/// A decoded marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    /// Index of the measured phase that sent the post.
    pub run: usize,
    /// Number of the post within the phase.
    pub seq: u64,
    /// Send time, in microseconds since the harness started.
    pub sent_micros: u64,
}

impl Marker {
    /// Returns the text to post.
    pub fn text(&self) -> String {
        format!("bench:{}:{}:{}", self.run, self.seq, self.sent_micros)
    }

    /// Finds the marker in an encoded event (`..."text":"bench:1:2:3"...`).
    pub fn find(frame: &[u8]) -> Option<Marker> {
        let start = memmem::find(frame, NEEDLE)? + NEEDLE.len();
        let rest = &frame[start..];
        let end = memchr::memchr(b'"', rest)?;
        let mut fields = rest[..end].split(|&byte| byte == b':');
        let run = parse_number(fields.next()?)?;
        let seq = parse_number(fields.next()?)?;
        let sent_micros = parse_number(fields.next()?)?;
        Some(Marker {
            run: usize::try_from(run).ok()?,
            seq,
            sent_micros,
        })
    }
}

fn parse_number(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip() {
        let marker = Marker {
            run: 1,
            seq: 42,
            sent_micros: 123_456,
        };
        let frame = format!(
            r#"{{"channel":"C1","type":"message","text":"{}","ts":"1.2"}}"#,
            marker.text()
        );
        assert_eq!(Marker::find(frame.as_bytes()), Some(marker));
    }

    #[test]
    fn other_text_has_no_marker() {
        assert_eq!(Marker::find(br#"{"type":"hello"}"#), None);
        assert_eq!(Marker::find(br#"{"text":"bench:x:1:2"}"#), None);
    }
}
