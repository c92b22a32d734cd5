//! A real SMTP server on loopback (tests/smtp-sink, aiosmtpd) for the email tests (e2e and
//! the gateway's multi-replica tests): started
//! per test on a free port, stoppable and restartable, keeping every accepted message as an
//! `.eml` file that the tests read back with a MIME parser.

use std::fmt::Write as _;
use std::io::BufRead as _;

use mail_parser::MimeHeaders as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The command `scripts/test` exports; `None` (with a banner) when it is missing outside CI.
fn command() -> Option<Vec<String>> {
    match std::env::var("TRELLIS_TEST_SMTP_SINK") {
        Ok(cmd) if !cmd.trim().is_empty() => {
            Some(cmd.split_whitespace().map(str::to_owned).collect())
        }
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TRELLIS_TEST_SMTP_SINK is not set under CI=true: run the tests through scripts/test"
            );
            eprintln!(
                "!! TRELLIS_TEST_SMTP_SINK not set: email test SKIPPED (scripts/test sets it)"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl SmtpSink {
    /// Starts a sink, or `None` when the environment has none (outside CI only).
    pub fn start() -> Option<Self> {
        command()?;
        let mut sink = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        // `free_port` finds a port free now, not one reserved: another test process may bind
        // it first. A first start that fails tries other ports; only `restart` must keep one.
        for _ in 0..5 {
            if sink.try_listen() {
                return Some(sink);
            }
            sink.port = free_port();
        }
        panic!("the SMTP sink did not start on any of five ports");
    }

    /// `smtp://127.0.0.1:<port>` (plain: it is loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL): connections drop, stored messages stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(20);
        // The port may still be held by the previous server for a moment.
        while !self.try_listen() {
            assert!(Instant::now() < deadline, "the SMTP sink did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts the server on `self.port`; whether it is listening.
    fn try_listen(&mut self) -> bool {
        let cmd = command().expect("sink command");
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        if line.starts_with("ready") {
            self.child = Some(child);
            return true;
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Every message received so far, oldest first, as received.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.files()
            .into_iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.files().len()
    }
}

/// One received message, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub envelope_to: Vec<String>,
    pub message_id: String,
    /// The raw `List-Unsubscribe` header, when there is one.
    pub list_unsubscribe: Option<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Each attachment: (content type with parameters, body).
    pub attachments: Vec<(String, String)>,
    /// Each attachment as a file: (its file name, its bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

/// Parses a received message with a real MIME parser.
pub fn parse(raw: &[u8]) -> Mail {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a MIME message");
    let addr = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned()
    };
    let attachments = message
        .attachments()
        .map(|part| {
            let ct = part
                .content_type()
                .map(|ct| {
                    let mut s = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default());
                    for attribute in ct.attributes().unwrap_or_default() {
                        let _ = write!(s, "; {}={}", attribute.name, attribute.value);
                    }
                    s
                })
                .unwrap_or_default();
            (ct, String::from_utf8_lossy(part.contents()).into_owned())
        })
        .collect();
    let files = message
        .attachments()
        .map(|part| {
            (
                part.attachment_name().unwrap_or_default().to_owned(),
                part.contents().to_vec(),
            )
        })
        .collect();
    Mail {
        files,
        envelope_to: message
            .header_values("X-Envelope-To")
            .filter_map(|v| v.as_text().map(|t| t.trim().to_owned()))
            .collect(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        list_unsubscribe: message
            .header_raw("List-Unsubscribe")
            .map(|v| v.trim().to_owned()),
        from: addr(message.from()),
        to: addr(message.to()),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default(),
        attachments,
    }
}
