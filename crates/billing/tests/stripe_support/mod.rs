//! Talking to the run's Stripe stand-in directly, as a school's browser or Stripe's dashboard
//! would: paying with a test card, reading what the adapter made, planting differences.
#![allow(dead_code)]

use billing::provider::{StripeConfig, StripeProvider};
use serde_json::Value;

pub const SECRET: &str = "sk_test_trellis";
pub const WEBHOOK_SECRET: &str = "whsec_trellis_test";
/// Declined on charge by localstripe.
pub const DECLINED_CARD: &str = "4000000000000341";
pub const GOOD_CARD: &str = "4242424242424242";

/// The stand-in's base URL and an adapter pointed at it; `None` skips the test (loudly; a
/// failure under CI=true).
pub fn standin() -> Option<(Standin, StripeProvider)> {
    let base = testkit::stripe_url()?;
    let provider = StripeProvider::new(&StripeConfig {
        secret_key: SECRET.to_owned(),
        webhook_secret: WEBHOOK_SECRET.to_owned(),
        api_base: Some(base.clone()),
        payment_methods: billing::provider::HostedPaymentMethod::DEFAULTS.to_vec(),
    })
    .expect("client");
    Some((Standin::new(base), provider))
}

#[derive(Debug, Clone)]
pub struct Standin {
    pub base: String,
    http: reqwest::Client,
}

impl Standin {
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/v1/{path}", self.base))
            .basic_auth(SECRET, Some(""))
            .send()
            .await
            .expect("stand-in reachable");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// POSTs a form; returns the status and the JSON body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/v1/{path}", self.base))
            .basic_auth(SECRET, Some(""))
            .form(form)
            .send()
            .await
            .expect("stand-in reachable");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    /// A card payment method attached to `customer`.
    pub async fn card(&self, customer: &str, number: &str) -> String {
        let (status, pm) = self
            .post(
                "payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2031"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{pm}");
        let id = pm["id"].as_str().expect("pm id").to_owned();
        let (status, body) = self
            .post(
                &format!("payment_methods/{id}/attach"),
                &[("customer", customer)],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// Pays an open invoice with a card, as the hosted invoice page would.
    pub async fn pay_invoice(
        &self,
        invoice_ref: &str,
        customer: &str,
        number: &str,
    ) -> (u16, Value) {
        let pm = self.card(customer, number).await;
        self.post(
            &format!("invoices/{invoice_ref}/pay"),
            &[("payment_method", pm.as_str())],
        )
        .await
    }

    /// Registers a signed webhook endpoint.
    pub async fn register_webhook(&self, id: &str, url: &str, secret: &str) {
        let response = self
            .http
            .post(format!("{}/_config/webhooks/{id}", self.base))
            .form(&[("url", url), ("secret", secret)])
            .send()
            .await
            .expect("stand-in reachable");
        assert!(response.status().is_success());
    }

    /// Money taken from `customer` by card outside Trellis (a PaymentIntent confirmed at
    /// Stripe directly): its `pi_…`.
    pub async fn charge_directly(&self, customer: &str, pence: i64) -> String {
        let pm = self.card(customer, GOOD_CARD).await;
        let amount = pence.to_string();
        let (status, intent) = self
            .post(
                "payment_intents",
                &[
                    ("amount", amount.as_str()),
                    ("currency", "gbp"),
                    ("customer", customer),
                    ("payment_method", pm.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 200, "{intent}");
        let id = intent["id"].as_str().expect("pi").to_owned();
        let (status, confirmed) = self
            .post(&format!("payment_intents/{id}/confirm"), &[])
            .await;
        assert_eq!(status, 200, "{confirmed}");
        assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
        id
    }

    /// Pays out now what `customer` paid and was refunded (the stand-in's test helper).
    pub async fn pay_out(&self, customer: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/_config/payouts", self.base))
            .form(&[("customer", customer)])
            .send()
            .await
            .expect("stand-in reachable");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("json")
    }
}
