//! [`WebhookSink`]: the bounded queue, the delivery thread and one action's attempts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};
use tributary_engine::delivery::{ActionRecord, ActionSink, DeliveryOutcome};

use super::breaker::{CircuitBreaker, Permit};
use super::retry::{RetrySchedule, Verdict, classify_status};
use super::{WebhookConfig, WebhookError};
use crate::actions::{Attempted, DeliveryContext, Pending, Recorder};

/// The header every call carries: the action's id, the same on every retry.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Delivers actions to one webhook endpoint (see the [module docs](super)).
#[derive(Debug)]
pub struct WebhookSink {
    url: String,
    capacity: usize,
    queue: Mutex<Option<mpsc::Sender<Pending>>>,
    shared: Arc<Shared>,
    closing: watch::Sender<bool>,
    thread: Mutex<Option<(JoinHandle<()>, std::sync::mpsc::Receiver<()>)>>,
}

/// What the delivery tasks share.
#[derive(Debug)]
struct Shared {
    url: String,
    client: reqwest::Client,
    schedule: RetrySchedule,
    breaker: Mutex<CircuitBreaker>,
    recorder: Recorder,
    timeout: Duration,
    /// Accepted and not finished: queued or in flight.
    outstanding: AtomicU64,
}

impl WebhookSink {
    /// Validates `config` and starts the delivery thread; outcomes go to `context`.
    pub fn try_new(config: WebhookConfig, context: DeliveryContext) -> Result<Self, WebhookError> {
        config.validate()?;
        let client = client(&config)?;
        let shared = Arc::new(Shared {
            url: config.url.clone(),
            client,
            schedule: RetrySchedule::new(&config.retry_delays_ms, config.jitter, config.max_retry_after_ms),
            breaker: Mutex::new(CircuitBreaker::new(&config.breaker)),
            recorder: Recorder::new(context, "webhook", config.url.clone()),
            timeout: config.timeout(),
            outstanding: AtomicU64::new(0),
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        let (closing, closing_rx) = watch::channel(false);
        let (done, finished) = std::sync::mpsc::channel();
        let in_flight = config.max_in_flight;
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("webhook-delivery".into())
            .spawn(move || {
                runtime.block_on(dispatch(worker, receiver, in_flight, closing_rx));
                // The receiver may be gone (nobody waits for a sink dropped at exit).
                let _ = done.send(());
            })?;
        Ok(Self {
            url: config.url,
            capacity: config.queue_capacity,
            queue: Mutex::new(Some(queue)),
            shared,
            closing,
            thread: Mutex::new(Some((thread, finished))),
        })
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Actions accepted and not finished yet (queued or being attempted).
    pub fn outstanding(&self) -> u64 {
        self.shared.outstanding.load(Ordering::Acquire)
    }

    /// Whether the endpoint's circuit breaker is open (calls fail fast).
    pub fn breaker_open(&self) -> bool {
        self.shared
            .breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_open()
    }

    /// Stops accepting actions and lets the queued and in-flight ones finish for up to
    /// `grace`; whatever is still unfinished then is dead-lettered ("sink closed before
    /// delivery"). Idempotent; later submissions are dead-lettered at once.
    pub fn close(&self, grace: Duration) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some((thread, finished)) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return;
        };
        if finished.recv_timeout(grace).is_err() {
            self.closing.send_replace(true);
        }
        if thread.join().is_err() {
            tracing::error!(url = %self.url, "the webhook delivery thread panicked");
        }
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.close(Duration::ZERO);
    }
}

impl ActionSink for WebhookSink {
    fn submit(&self, action: ActionRecord) {
        let pending = Pending::now(action);
        // Counted first, so the log has seen it before the thread can take it.
        self.shared.recorder.log().enqueued();
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_ref() else {
            self.shared
                .recorder
                .refuse(&pending, "the webhook sink is closed".to_string());
            return;
        };
        match queue.try_reserve() {
            Ok(slot) => {
                self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
                slot.send(pending);
            }
            Err(mpsc::error::TrySendError::Full(())) => self.shared.recorder.refuse(
                &pending,
                format!(
                    "delivery queue full ({} actions waiting): the endpoint is slow or down",
                    self.capacity
                ),
            ),
            Err(mpsc::error::TrySendError::Closed(())) => self
                .shared
                .recorder
                .refuse(&pending, "the webhook delivery thread has stopped".to_string()),
        }
    }
}

/// Takes actions from the queue, at most `in_flight` at a time, until the queue closes and
/// every started delivery has ended.
async fn dispatch(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Pending>,
    in_flight: usize,
    closing: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    // A slot first, then an action: while every slot is taken, actions stay in the queue, so
    // the queue's capacity is exactly what may wait.
    while let Ok(slot) = slots.clone().acquire_owned().await {
        let Some(pending) = queue.recv().await else {
            break;
        };
        shared.recorder.log().started();
        let shared = shared.clone();
        let closing = closing.clone();
        tokio::spawn(async move {
            deliver(&shared, &pending, closing).await;
            shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            drop(slot);
        });
    }
    let all = u32::try_from(in_flight).unwrap_or(u32::MAX);
    if slots.acquire_many(all).await.is_err() {
        tracing::error!("webhook delivery slots closed early");
    }
}

/// Attempts one action until it is delivered, refused for good, out of retries or the sink
/// is closed, and records the outcome.
async fn deliver(shared: &Shared, pending: &Pending, mut closing: watch::Receiver<bool>) {
    let mut attempted = Attempted::default();
    let outcome = loop {
        if *closing.borrow() {
            attempted.error = Some(closed_reason(attempted.error.as_deref()));
            break DeliveryOutcome::DeadLettered;
        }
        attempted.attempts += 1;
        shared.recorder.log().attempted();
        let verdict = tokio::select! {
            verdict = shared.attempt(&pending.action, &mut attempted) => verdict,
            _ = closing.changed() => {
                attempted.error = Some(closed_reason(attempted.error.as_deref()));
                break DeliveryOutcome::DeadLettered;
            }
        };
        match verdict {
            Verdict::Delivered => {
                attempted.error = None;
                break DeliveryOutcome::Delivered;
            }
            Verdict::Permanent { error } => {
                attempted.error = Some(error);
                break DeliveryOutcome::DeadLettered;
            }
            Verdict::Retry { error, retry_after } => {
                let retry = usize::try_from(attempted.attempts - 1).unwrap_or(usize::MAX);
                let next = shared.schedule.delay(retry, &pending.action.id, retry_after);
                let Some(wait) = next else {
                    attempted.error = Some(format!("retries exhausted; last error: {error}"));
                    break DeliveryOutcome::DeadLettered;
                };
                attempted.error = Some(error);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = closing.changed() => {}
                }
            }
        }
    };
    shared.recorder.finish(pending, outcome, &attempted);
}

fn closed_reason(last: Option<&str>) -> String {
    match last {
        Some(last) => format!("sink closed before delivery; last error: {last}"),
        None => "sink closed before delivery".to_string(),
    }
}

impl Shared {
    /// One attempt: through the breaker, one POST, its verdict (`attempted` keeps the status).
    async fn attempt(&self, action: &ActionRecord, attempted: &mut Attempted) -> Verdict {
        let permit = self
            .breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .permit(Instant::now());
        if permit == Permit::Rejected {
            return Verdict::Retry {
                error: "circuit breaker open: call not made".to_string(),
                retry_after: None,
            };
        }
        let sent = self
            .client
            .post(&self.url)
            .header(IDEMPOTENCY_KEY, &action.id)
            .json(&action.payload)
            .send()
            .await;
        let verdict = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                attempted.http_status = Some(status);
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                classify_status(status, retry_after)
            }
            Err(e) => Verdict::Retry {
                error: describe(&e, self.timeout),
                retry_after: None,
            },
        };
        let mut breaker = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        match &verdict {
            Verdict::Retry { .. } => breaker.failed(Instant::now()),
            // The endpoint answered, even if it refused: it is up.
            Verdict::Delivered | Verdict::Permanent { .. } => breaker.succeeded(),
        }
        verdict
    }
}

/// A failed call, for a person.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("timed out after {} ms", timeout.as_millis())
    } else if e.is_connect() {
        format!("cannot connect: {}", source_chain(e))
    } else {
        format!("request failed: {}", source_chain(e))
    }
}

/// reqwest's top-level message hides the cause ("error sending request"); add the chain.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The HTTP client for `config`: its timeout, and the extra roots it trusts for `https`.
fn client(config: &WebhookConfig) -> Result<reqwest::Client, WebhookError> {
    let mut builder = reqwest::Client::builder().timeout(config.timeout());
    if let Some(path) = &config.root_certificate {
        let pem = std::fs::read(path).map_err(|e| WebhookError::RootCertificate {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| WebhookError::RootCertificate {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if roots.is_empty() {
            return Err(WebhookError::RootCertificate {
                path: path.clone(),
                reason: "no PEM certificate in the file".to_string(),
            });
        }
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
    }
    Ok(builder.build()?)
}
