//! The message templates (`crates/notifications/templates/`), compiled into the binary so a
//! deployment cannot lose them, and rendered by minijinja: `<kind>.txt` for the plain-text
//! part and `<kind>.html` for the HTML part, which HTML-escapes every value it is given — an
//! attendee named `<script>` reaches an inbox as text.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 40] = templates!(
    "layout.html",
    "footer.txt",
    "session.txt",
    "session.html",
    "attendees.txt",
    "attendees.html",
    "booking_confirmed.txt",
    "booking_confirmed.html",
    "booking_waitlisted.txt",
    "booking_waitlisted.html",
    "waitlist_offered.txt",
    "waitlist_offered.html",
    "waitlist_lapsed.txt",
    "waitlist_lapsed.html",
    "booking_requested.txt",
    "booking_requested.html",
    "booking_declined.txt",
    "booking_declined.html",
    "booking_cancelled.txt",
    "booking_cancelled.html",
    "invoice_issued.txt",
    "invoice_issued.html",
    "invoice_overdue.txt",
    "invoice_overdue.html",
    "receipt_allocated.txt",
    "receipt_allocated.html",
    "card_payment_failed.txt",
    "card_payment_failed.html",
    "time_credited.txt",
    "time_credited.html",
    "review_scheduled.txt",
    "review_scheduled.html",
    "review_report_ready.txt",
    "review_report_ready.html",
    "review_published.txt",
    "review_published.html",
    "renewal_opened.txt",
    "renewal_opened.html",
    "renewal_reminder.txt",
    "renewal_reminder.html",
);

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        // The templates are ours and tested: one that does not parse is a build defect.
        env.add_template(name, source)
            .expect("every bundled template parses");
    }
    env
});

/// What every message's layout shows besides its own facts.
#[derive(Debug, Clone, Serialize)]
pub struct Frame<'a> {
    pub subject: &'a str,
    pub recipient: &'a str,
    pub partnership: &'a str,
    pub category_label: &'a str,
    pub unsubscribe_url: Option<&'a str>,
}

/// The plain-text and HTML bodies of `template` for `facts`.
///
/// # Errors
/// A template that fails to render (a bug, reported as the message's failure).
pub fn render(
    template: &str,
    frame: &Frame<'_>,
    facts: &impl Serialize,
) -> Result<(String, String), minijinja::Error> {
    let ctx = context! { ..Value::from(Serde(frame)), ..Value::from(Serde(facts)) };
    let text = ENV.get_template(&format!("{template}.txt"))?.render(&ctx)?;
    let html = ENV
        .get_template(&format!("{template}.html"))?
        .render(&ctx)?;
    Ok((text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_html_escapes_user_text() {
        LazyLock::force(&ENV);
        let frame = Frame {
            subject: "s",
            recipient: "<b>Ann</b>",
            partnership: "Heath Hill",
            category_label: "bookings",
            unsubscribe_url: Some("https://trellis.example/u/x"),
        };
        let facts = serde_json::json!({
            "requester": "<script>alert(1)</script>",
            "school": "Holly Park",
            "service": "Phonics",
            "provider": "Partnership team",
            "places": 2,
            "parts": [{"when": "Tuesday 12 January 2027, 09:30–15:30", "venue": "Room 2"}],
            "attendees": ["<script>x</script>", "Bo"],
            "price": "£150.00", "unit_price": "£75.00", "vat": false,
        });
        let (text, html) = render("booking_requested", &frame, &facts).expect("test value");
        assert!(text.contains("<script>alert(1)</script> has asked for 2 places"));
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("Dear &lt;b&gt;Ann"), "{html}");
    }
}
