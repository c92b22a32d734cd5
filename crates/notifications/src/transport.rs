//! How a message leaves Trellis: the [`Transport`] port, and its SMTP adapter (lettre).

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The stored message's id: the Message-ID is derived from it, so a message sent twice
    /// (a worker killed between the server's "250 OK" and marking it sent) carries the same
    /// Message-ID and mail systems can tell it is one message.
    pub id: uuid::Uuid,
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub ics: Option<String>,
    /// A file it carries (an invoice as PDF).
    pub attachment: Option<crate::model::Attachment>,
    /// The message's unsubscribe link, when its recipient may stop its category: sent as
    /// `List-Unsubscribe` with one-click `List-Unsubscribe-Post` (RFC 8058), which mail
    /// clients show as an unsubscribe button.
    pub unsubscribe_url: Option<String>,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// It will never be accepted as it is (a bad address, a 5xx): dead-letter it.
    #[error("refused: {0}")]
    Permanent(String),
    /// It may be accepted later (the server is down, busy, or said 4xx): retry.
    #[error("not sent yet: {0}")]
    Transient(String),
}

/// Delivers one message.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    async fn send(&self, message: &Outgoing) -> Result<(), SendError>;
}

/// `TRELLIS_SMTP_URL` or `TRELLIS_MAIL_FROM` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("TRELLIS_SMTP_URL: {0} (expected e.g. smtp://user:pass@host:587?tls=starttls)")]
    Url(String),
    #[error(
        "TRELLIS_MAIL_FROM: {0} (expected e.g. \"Heath Hill Partnership <cpd@heathhill.example>\")"
    )]
    From(String),
}

/// Email over SMTP.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of Message-IDs (the From address's).
    domain: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL holds a password: never print the transport.
        f.debug_struct("Smtp")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// The address in a From mailbox (`Name <addr>` or `addr`), if it is one.
pub fn check_from(from: &str) -> Result<String, MailConfigError> {
    from.parse::<Mailbox>()
        .map(|m| m.email.to_string())
        .map_err(|e| MailConfigError::From(e.to_string()))
}

/// Whether an SMTP URL can be used, without connecting (or needing a runtime).
pub fn check_url(url: &str) -> Result<(), MailConfigError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(url))
        .map(drop)
        .map_err(|e| MailConfigError::Url(e.to_string()))
}

/// `starttls` is the name people use; lettre calls it `required`. `none` is what a plain
/// `smtp://` URL means anyway.
fn lettre_url(url: &str) -> String {
    url.replace("tls=starttls", "tls=required")
        .replace("?tls=none", "")
        .replace("&tls=none", "")
}

impl Smtp {
    /// From `smtp://[user:pass@]host[:port][?tls=starttls|required|opportunistic|none]` or
    /// `smtps://…` (TLS from the first byte), and the From mailbox.
    pub fn new(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailConfigError::From(e.to_string()))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(url))
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let domain = from.email.domain().to_owned();
        Ok(Self {
            transport,
            from,
            domain,
        })
    }

    /// The From address, as calendar invitations name their organizer.
    #[must_use]
    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    fn build(&self, message: &Outgoing) -> Result<Message, SendError> {
        let to_address = message
            .to_email
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                SendError::Permanent(format!(
                    "invalid recipient address {:?}: {e}",
                    message.to_email
                ))
            })?;
        let to = Mailbox::new(Some(message.to_name.clone()), to_address);
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(message.text.clone()))
            .singlepart(SinglePart::html(message.html.clone()));
        let mut files = Vec::new();
        if let Some(ics) = &message.ics {
            let method = if ics.contains("METHOD:CANCEL") {
                "CANCEL"
            } else {
                "REQUEST"
            };
            let kind =
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .map_err(|e| SendError::Permanent(format!("calendar content type: {e}")))?;
            files.push(Attachment::new("invite.ics".to_owned()).body(ics.clone(), kind));
        }
        if let Some(file) = &message.attachment {
            let kind = ContentType::parse(&file.content_type)
                .map_err(|e| SendError::Permanent(format!("attachment content type: {e}")))?;
            files.push(Attachment::new(file.name.clone()).body(file.bytes.clone(), kind));
        }
        let body = if files.is_empty() {
            alternative
        } else {
            files
                .into_iter()
                .fold(MultiPart::mixed().multipart(alternative), |mixed, file| {
                    mixed.singlepart(file)
                })
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{}@{}>", message.id, self.domain)));
        if let Some(url) = &message.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder
            .multipart(body)
            .map_err(|e| SendError::Permanent(format!("message: {e}")))
    }
}

#[async_trait::async_trait]
impl Transport for Smtp {
    async fn send(&self, message: &Outgoing) -> Result<(), SendError> {
        let email = self.build(message)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The connection pool lives on the runtime, as it does in the server.
    #[tokio::test]
    async fn urls_and_from_addresses_are_checked_when_configured() {
        assert!(
            Smtp::new(
                "smtp://user:pass@mail.example:587?tls=starttls",
                "Trellis <cpd@hh.example>"
            )
            .is_ok()
        );
        assert!(Smtp::new("smtps://mail.example", "cpd@hh.example").is_ok());
        assert!(Smtp::new("smtp://127.0.0.1:2525?tls=none", "cpd@hh.example").is_ok());
        assert!(matches!(
            Smtp::new("http://mail.example", "cpd@hh.example"),
            Err(MailConfigError::Url(_))
        ));
        assert!(matches!(
            Smtp::new("smtp://mail.example", "not an address"),
            Err(MailConfigError::From(_))
        ));
    }

    #[tokio::test]
    async fn a_bad_recipient_is_refused_for_good() {
        let smtp = Smtp::new("smtp://127.0.0.1:1", "cpd@hh.example").expect("valid");
        let message = Outgoing {
            id: uuid::Uuid::now_v7(),
            to_name: "Ann".to_owned(),
            to_email: "ann at school".to_owned(),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "<p>t</p>".to_owned(),
            ics: None,
            attachment: None,
            unsubscribe_url: None,
        };
        assert!(matches!(smtp.build(&message), Err(SendError::Permanent(_))));
    }
}
