//! Calendar data (RFC 5545) for invitations and feeds, written by the `icalendar` crate.
//!
//! One VEVENT per session part, with a UID that stays the same for the life of the booking
//! (`<booking>-<part>@trellis`), so a METHOD:CANCEL for the same UID removes exactly the event
//! the invitation added, and a feed's events are the invitation's. Times are written in UTC
//! (unambiguous in every client); the calendar names Europe/London as its zone for display.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component as _, Event, EventLike as _, EventStatus, Property};
use kernel::BookingId;

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
    calendar.timezone("Europe/London");
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
        .starts(occurrence.starts_at)
        .ends(occurrence.ends_at)
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
            assert_eq!(start.val.as_str(), "20270112T093000Z");
        }
    }
}
