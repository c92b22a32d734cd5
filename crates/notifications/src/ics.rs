//! Calendar data (RFC 5545) for invitations and feeds, written by the `icalendar` crate.
//!
//! One VEVENT per session part, with a UID that stays the same for the life of the booking
//! (`<booking>-<part>@trellis`), so a METHOD:CANCEL for the same UID removes exactly the event
//! the invitation added, and a feed's events are the invitation's.
//!
//! Times are local Europe/London times with `TZID=Europe/London`, and every calendar carries
//! that zone's VTIMEZONE (GMT, and BST from the last Sunday of March to the last Sunday of
//! October), as RFC 5545 asks of a TZID: a session at 09:30 reads 09:30 in the file as on
//! the day, and a client that shows another zone converts from the named rules rather than
//! guessing. DTSTAMP stays in UTC, as the standard requires.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use icalendar::{
    Calendar, CalendarComponent, CalendarDateTime, Component as _, Event, EventLike as _,
    EventStatus, Property,
};
use kernel::BookingId;

/// The zone every event's times are given in.
pub const TZID: &str = "Europe/London";

/// Europe/London's rules since 1996 (the EU's last-Sunday changes), which cover every date
/// Trellis accepts (2000–2099).
const VTIMEZONE: &str = "BEGIN:VTIMEZONE\r
TZID:Europe/London\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0000\r
TZOFFSETTO:+0100\r
TZNAME:BST\r
DTSTART:19700329T010000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0000\r
TZNAME:GMT\r
DTSTART:19701025T020000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
";

/// The VTIMEZONE component, parsed from its text once per calendar.
fn london() -> CalendarComponent {
    // The text is ours and tested: one that does not parse is a build defect.
    CalendarComponent::from_str(VTIMEZONE).expect("the bundled VTIMEZONE parses")
}

/// `at` as a local Europe/London time naming its zone.
fn local(at: DateTime<Utc>) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time: at.with_timezone(&London).naive_local(),
        tzid: TZID.to_owned(),
    }
}

/// A part of a session, as a calendar event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub booking: BookingId,
    /// 1-based position of the part in its session.
    pub part: usize,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: String,
}

impl Occurrence {
    /// The event's UID, stable for the booking's life.
    #[must_use]
    pub fn uid(&self) -> String {
        format!("{}-{}@trellis", self.booking, self.part)
    }
}

/// How an invitation's calendar is meant (iTIP, RFC 5546).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add (or update) these events.
    Request,
    /// Remove these events.
    Cancel,
}

/// An invitation for `attendee` from `organizer` (both email addresses).
#[must_use]
pub fn invitation(
    method: Method,
    organizer: &str,
    attendee: (&str, &str),
    occurrences: &[Occurrence],
    stamp: DateTime<Utc>,
) -> String {
    let mut calendar = Calendar::new();
    calendar.push(london());
    calendar.append_property(Property::new(
        "METHOD",
        match method {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        },
    ));
    for occurrence in occurrences {
        let mut event = event(occurrence, stamp);
        event.append_property(Property::new("ORGANIZER", format!("mailto:{organizer}")));
        let mut who = Property::new("ATTENDEE", format!("mailto:{}", attendee.1));
        who.add_parameter("CN", attendee.0);
        who.add_parameter("ROLE", "REQ-PARTICIPANT");
        event.append_multi_property(who);
        match method {
            Method::Request => {
                event.status(EventStatus::Confirmed);
                event.add_property("SEQUENCE", "0");
            }
            Method::Cancel => {
                event.status(EventStatus::Cancelled);
                event.add_property("SEQUENCE", "1");
            }
        }
        calendar.push(event.done());
    }
    calendar.done().to_string()
}

/// A feed of confirmed sessions, for a calendar application to subscribe to.
#[must_use]
pub fn feed(name: &str, occurrences: &[Occurrence], stamp: DateTime<Utc>) -> String {
    let mut calendar = Calendar::new();
    calendar.name(name);
    calendar.timezone(TZID);
    calendar.push(london());
    for occurrence in occurrences {
        let mut event = event(occurrence, stamp);
        event.status(EventStatus::Confirmed);
        calendar.push(event.done());
    }
    calendar.done().to_string()
}

fn event(occurrence: &Occurrence, stamp: DateTime<Utc>) -> Event {
    let mut event = Event::new();
    event
        .uid(&occurrence.uid())
        .summary(&occurrence.title)
        .description(&occurrence.description)
        .starts(local(occurrence.starts_at))
        .ends(local(occurrence.ends_at))
        .timestamp(stamp);
    if let Some(location) = &occurrence.location {
        event.location(location);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use icalendar::parser::{read_calendar, unfold};

    fn occurrence() -> Occurrence {
        Occurrence {
            booking: BookingId::new(),
            part: 1,
            title: "Phonics, part 1 of 2".to_owned(),
            starts_at: Utc
                .with_ymd_and_hms(2027, 1, 12, 9, 30, 0)
                .single()
                .expect("test value"),
            ends_at: Utc
                .with_ymd_and_hms(2027, 1, 12, 15, 30, 0)
                .single()
                .expect("test value"),
            location: Some("Holly Park, Room 2; N11".to_owned()),
            description: "Booked for Ann <Head>".to_owned(),
        }
    }

    #[test]
    fn a_cancellation_names_the_invitations_uid() {
        let o = occurrence();
        let stamp = Utc
            .with_ymd_and_hms(2026, 12, 4, 8, 0, 0)
            .single()
            .expect("test value");
        let invite = invitation(
            Method::Request,
            "cpd@partnership.example",
            ("Ann", "ann@school.example"),
            std::slice::from_ref(&o),
            stamp,
        );
        let cancel = invitation(
            Method::Cancel,
            "cpd@partnership.example",
            ("Ann", "ann@school.example"),
            std::slice::from_ref(&o),
            stamp,
        );
        for (text, method) in [(&invite, "REQUEST"), (&cancel, "CANCEL")] {
            let unfolded = unfold(text);
            let parsed = read_calendar(&unfolded).expect("a parser reads it back");
            let method_prop = parsed
                .properties
                .iter()
                .find(|p| p.name == "METHOD")
                .expect("test value");
            assert_eq!(method_prop.val.as_str(), method);
            let event = &parsed
                .components
                .iter()
                .find(|c| c.name == "VEVENT")
                .expect("test value");
            let uid = event
                .properties
                .iter()
                .find(|p| p.name == "UID")
                .expect("test value");
            assert_eq!(uid.val.as_str(), o.uid());
            let start = event
                .properties
                .iter()
                .find(|p| p.name == "DTSTART")
                .expect("test value");
            // 09:30 UTC in January is 09:30 GMT.
            assert_eq!(start.val.as_str(), "20270112T093000");
            assert_tzid(start);
            assert_has_london(&parsed);
        }
    }

    fn assert_tzid(property: &icalendar::parser::Property<'_>) {
        let tzid = property
            .params
            .iter()
            .find(|p| p.key == "TZID")
            .and_then(|p| p.val.as_ref())
            .map(|v| v.as_str().to_owned());
        assert_eq!(tzid.as_deref(), Some(TZID), "{property:?}");
    }

    fn assert_has_london(parsed: &icalendar::parser::Calendar<'_>) {
        let zone = parsed
            .components
            .iter()
            .find(|c| c.name == "VTIMEZONE")
            .expect("a VTIMEZONE");
        let id = zone
            .properties
            .iter()
            .find(|p| p.name == "TZID")
            .expect("its TZID");
        assert_eq!(id.val.as_str(), TZID);
        let kinds: Vec<&str> = zone.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(kinds, ["DAYLIGHT", "STANDARD"]);
    }

    #[test]
    fn a_summer_feed_gives_london_summer_time_with_its_zone() {
        let mut o = occurrence();
        // 08:30–14:30 UTC on 15 June is 09:30–15:30 BST.
        o.starts_at = Utc
            .with_ymd_and_hms(2027, 6, 15, 8, 30, 0)
            .single()
            .expect("test value");
        o.ends_at = Utc
            .with_ymd_and_hms(2027, 6, 15, 14, 30, 0)
            .single()
            .expect("test value");
        let text = feed("Holly Park", &[o], Utc::now());
        let unfolded = unfold(&text);
        let parsed = read_calendar(&unfolded).expect("a parser reads it back");
        assert_has_london(&parsed);
        let event = parsed
            .components
            .iter()
            .find(|c| c.name == "VEVENT")
            .expect("an event");
        for (name, expected) in [("DTSTART", "20270615T093000"), ("DTEND", "20270615T153000")] {
            let p = event
                .properties
                .iter()
                .find(|p| p.name == name)
                .expect("test value");
            assert_eq!(p.val.as_str(), expected, "{name}");
            assert_tzid(p);
        }
        let stamp = event
            .properties
            .iter()
            .find(|p| p.name == "DTSTAMP")
            .expect("DTSTAMP");
        assert!(stamp.val.as_str().ends_with('Z'), "DTSTAMP is UTC");
    }
}
