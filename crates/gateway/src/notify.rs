//! The notifications worker: a loop in every replica (`TRELLIS_NOTIFICATIONS`, on by
//! default) that turns the outbox's events into messages and sends what is due over SMTP.
//!
//! Nothing it needs lives in memory: events are marked handled and messages claimed in the
//! database, so replicas share the work and a process killed mid-pass loses nothing (see
//! `notifications::delivery`). It also queues overdue-invoice and renewal reminders, once
//! per `TRELLIS_JOBS_INTERVAL_SECS` (each reminder for a stage is unique, so replicas
//! running it too cannot send a second).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kernel::{Clock, DomainError};
use notifications::worker::{Pass, run_pass};
use notifications::{DeliveryPolicy, MailConfigError, MessageSettings, Smtp, Transport};
use sea_orm::DatabaseConnection;

use crate::config::Config;

/// Everything the loop needs.
#[derive(Debug, Clone)]
pub struct Notifier {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    settings: MessageSettings,
    transport: Option<Arc<dyn Transport>>,
    policy: DeliveryPolicy,
    poll: Duration,
    reminder_days: Vec<u32>,
    renewal_reminder_days: u32,
    reminder_interval: Duration,
}

impl Notifier {
    /// From the configuration. Must be called on the runtime (the SMTP pool lives there).
    pub fn new(
        config: &Config,
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, MailConfigError> {
        let transport: Option<Arc<dyn Transport>> = match &config.smtp_url {
            Some(url) => Some(Arc::new(Smtp::new(url, &config.mail_from)?)),
            None => None,
        };
        Ok(Self {
            db,
            clock,
            settings: config.message_settings(),
            transport,
            policy: DeliveryPolicy {
                max_attempts: config.mail_max_attempts,
                lease: Duration::from_secs(config.mail_lease_secs),
                ..DeliveryPolicy::default()
            },
            poll: Duration::from_millis(config.notify_poll_ms),
            // Checked when the configuration was loaded.
            reminder_days: config.reminder_days().unwrap_or_default(),
            renewal_reminder_days: config.renewal_reminder_days,
            reminder_interval: config.jobs_interval(),
        })
    }

    /// Whether email is configured (otherwise messages wait in the outbox).
    #[must_use]
    pub fn sends_email(&self) -> bool {
        self.transport.is_some()
    }

    /// One pass: every pending event, then every due message.
    pub async fn pass(&self) -> Result<Pass, DomainError> {
        run_pass(
            &self.db,
            self.clock.as_ref(),
            &self.settings,
            self.transport.as_deref(),
            &self.policy,
        )
        .await
    }

    /// Queues today's overdue-invoice and renewal reminders; how many were new.
    pub async fn remind(&self) -> Result<u64, DomainError> {
        let overdue = notifications::reminders::remind_overdue(
            &self.db,
            self.clock.as_ref(),
            &self.settings,
            &self.reminder_days,
        )
        .await?;
        let renewals = notifications::reminders::remind_renewals(
            &self.db,
            self.clock.as_ref(),
            &self.settings,
            self.renewal_reminder_days,
        )
        .await?;
        Ok(overdue + renewals)
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        let mut last_reminders: Option<Instant> = None;
        loop {
            if last_reminders.is_none_or(|at| at.elapsed() >= self.reminder_interval) {
                match self.remind().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(reminders = n, "reminders queued"),
                    Err(e) => {
                        tracing::warn!(error = %e, "reminders failed; retrying next interval");
                    }
                }
                last_reminders = Some(Instant::now());
            }
            match self.pass().await {
                Ok(pass) if pass.fanned_out.events > 0 || pass.delivered.claimed() > 0 => {
                    tracing::debug!(
                        events = pass.fanned_out.events,
                        messages = pass.fanned_out.messages,
                        sent = pass.delivered.sent,
                        retrying = pass.delivered.retrying,
                        dead = pass.delivered.dead,
                        "notifications pass"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "notifications pass failed; retrying");
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
